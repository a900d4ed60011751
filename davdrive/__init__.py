"""davdrive: a secure document drive for associations, served over WebDAV.

The core package holds the data model, the rights policy, storage and use
cases. It never imports WsgiDAV, cheroot or anything HTTP; the adapters in
``provider/`` and ``auth/`` do, and ``davdrive.server`` wires them together.
"""

__version__ = "0.1.0"
