"""The members' web drive (``/files/``): the drive in a browser, with exactly the
rights WebDAV applies. One blueprint, one module of views per concern."""

from web.files import browse_views, connect_views, search_views, zip_views  # noqa: F401  (they add views)
from web.files.blueprint import files

__all__ = ["files"]
