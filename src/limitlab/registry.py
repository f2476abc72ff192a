"""Registries: the one shape of every extension point (methods, noise models, datasets), open to other packages.

A :class:`Registry` maps a name (what a params file writes) to an entry (a method class, a noise model, a dataset)
and remembers where each entry came from: limitlab itself or an installed package that declares an entry point in
the registry's group (``limitlab.methods``, ``limitlab.noise_models``, ``limitlab.datasets``)::

    # the plugin package's pyproject.toml
    [project.entry-points."limitlab.methods"]
    bootstrap = "limitlab_example.bootstrap"     # a module whose import registers its entries

Plugins are found with :mod:`importlib.metadata` the first time a registry is read (:meth:`Registry.load_plugins`).
A plugin that fails to import, or registers a name that exists, is a :class:`~limitlab.errors.LimitlabError`
naming the package, its version and the entry point. A run's identity includes the package and version of the
plugin entries it uses (:meth:`Registry.origin`), so upgrading a plugin retrains its runs and nothing else.
Torch-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import TypeVar

from limitlab.errors import LimitlabError

T = TypeVar("T")
_LOADING: list["Origin"] = []  # the plugin being imported: what it registers, in any registry, is its


@dataclass(frozen=True)
class Origin:
    """Where an entry comes from: the distribution (installed package) and its version, and the entry point."""

    distribution: str
    version: str
    entry_point: str | None = None  # 'name = module' of a plugin; None for limitlab's own entries

    @property
    def builtin(self) -> bool:
        return self.entry_point is None

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}" + (f" (entry point {self.entry_point})" if self.entry_point else "")


def _own_origin() -> Origin:
    try:
        version = metadata.version("limitlab")
    except metadata.PackageNotFoundError:  # a source tree on sys.path without an install
        version = "unknown"
    return Origin("limitlab", version)


class LiveMapping(Mapping[str, T]):
    """A read-only name -> value view rebuilt by ``build()`` on every read, so that entries registered later (a
    plugin loaded on first use, an own dataset loaded in this process) are in it."""

    def __init__(self, build: Callable[[], dict[str, T]]):
        self._build = build

    def __getitem__(self, name: str) -> T:
        return self._build()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


class Registry(LiveMapping[T]):
    """Name -> entry of one extension point, with each entry's :class:`Origin`. Read like a dict."""

    def __init__(self, kind: str, group: str):
        self.kind = kind    # 'method', 'noise model', 'dataset': for messages
        self.group = group  # the entry-point group plugins declare
        self._entries: dict[str, T] = {}
        self._origins: dict[str, Origin] = {}
        self._plugins_loaded = False
        super().__init__(self._ready)  # read like a dict: every read loads the plugins first

    # --- registering ------------------------------------------------------------------------------------------

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name``; a name that exists is refused, naming both origins."""
        origin = _LOADING[-1] if _LOADING else _own_origin()
        if not isinstance(name, str) or not name:
            raise LimitlabError(f"{origin}: a {self.kind} must have a non-empty name, not {name!r}")
        if name in self._entries:
            raise LimitlabError(f"{origin} registers the {self.kind} {name!r}, which {self._origins[name]} already "
                                f"registers: rename one of them")
        self._entries[name] = entry
        self._origins[name] = origin
        return entry

    def load_plugins(self) -> None:
        """Import every installed entry point of :attr:`group` once; each import registers its entries."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in sorted(metadata.entry_points(group=self.group), key=lambda e: (e.dist.name if e.dist else "", e.name)):
            dist = ep.dist
            origin = Origin(dist.name if dist else "(unknown package)", dist.version if dist else "unknown",
                            f"{ep.name} = {ep.value}")
            with self._as(origin):
                try:
                    ep.load()
                except LimitlabError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any import failure of someone else's package
                    raise LimitlabError(f"the {self.kind} plugin of {origin} (group {self.group}) failed to load: "
                                        f"{type(exc).__name__}: {exc}; fix or uninstall that package "
                                        f"(pip uninstall {origin.distribution})") from None

    @staticmethod
    @contextlib.contextmanager
    def _as(origin: Origin) -> Iterator[None]:
        _LOADING.append(origin)
        try:
            yield
        finally:
            _LOADING.pop()

    # --- reading ----------------------------------------------------------------------------------------------

    def _ready(self) -> dict[str, T]:
        self.load_plugins()
        return self._entries

    def get_entry(self, name: str, where: str = "") -> T:
        """The entry, or a clear error that lists the accepted names (and says where plugins come from)."""
        entries = self._ready()
        if name not in entries:
            raise LimitlabError(f"{where + ': ' if where else ''}unknown {self.kind} {name!r}; accepted: "
                                f"{', '.join(entries)} (other packages add {self.kind}s through the entry-point group "
                                f"{self.group}; `limitlab plugins` lists what is installed)")
        return entries[name]

    def origin(self, name: str) -> Origin:
        self._ready()
        return self._origins[name]

    def plugin_version(self, name: str) -> str | None:
        """'distribution==version' of a plugin entry (what a run's identity records), None for limitlab's own."""
        origin = self.origin(name)
        return None if origin.builtin else f"{origin.distribution}=={origin.version}"

    def rows(self) -> list[tuple[str, str, Origin]]:
        """(kind, name, origin) of every entry, limitlab's first: what ``limitlab plugins`` prints."""
        return [(self.kind, name, self._origins[name]) for name in self._ready()]
