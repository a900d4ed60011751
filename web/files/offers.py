"""What the listing offers on each entry: only what the policy allows the user there
(``browse.Item.allowed``); the use cases check it again when the form comes back."""

from __future__ import annotations

from davdrive.browse import Item

# The actions a row may offer, in the order they are shown.
ACTIONS = ("rename", "move", "visibility", "delete")


def offered(folder: Item, entry: Item) -> frozenset[str]:
    """The actions of ``ACTIONS`` offered on ``entry`` of ``folder``: rename needs
    ``move`` on it and ``create`` in its folder (a rename is a move within the folder);
    move, delete and the private/shared switch need ``move``, ``delete`` and
    ``set_visibility`` on it."""
    offers = set()
    if entry.may("move"):
        offers.add("move")
        if folder.may("create"):
            offers.add("rename")
    if entry.may("delete"):
        offers.add("delete")
    if entry.may("set_visibility"):
        offers.add("visibility")
    return frozenset(offers)
