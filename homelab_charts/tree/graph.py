"""A dependency graph: its topological order, its cycles and the depth of every node.

One implementation for every reader of a tree's ``dependsOn`` (the manual apply order,
``graph``'s layers, ``validate``'s cycle check, ``diff``'s group order). Nodes are any
hashable keys; edges point from a node to the nodes it depends on. A dependency that is
not a node of the graph is *missing*: it is ignored by :meth:`order`, :meth:`depths` and
:meth:`cycles` and listed by :meth:`missing`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class CycleError(Exception):
    """:meth:`DependencyGraph.order` met a cycle; ``stuck`` are the nodes never ordered
    (the members of the cycles and what depends on them), in the graph's order."""

    def __init__(self, stuck: list[Any]) -> None:
        self.stuck = stuck
        super().__init__(f"dependency cycle among {len(stuck)} node(s)")


class DependencyGraph(Generic[K]):
    """``deps`` maps each node to the nodes it depends on (duplicates ignored).

    The order of ``deps`` is the graph's order: it breaks ties in :meth:`order` when no
    ``rank`` is given, and it orders the output of :meth:`cycles` when no ``sort_key`` is.
    """

    def __init__(self, deps: Mapping[K, Iterable[K]]) -> None:
        self.deps: dict[K, list[K]] = {
            node: list(dict.fromkeys(targets)) for node, targets in deps.items()}
        self._position = {node: i for i, node in enumerate(self.deps)}

    @property
    def nodes(self) -> list[K]:
        return list(self.deps)

    def missing(self) -> list[tuple[K, K]]:
        """``(node, dependency)`` for every dependency that is not a node."""
        return [(node, dep) for node, targets in self.deps.items() for dep in targets
                if dep not in self.deps]

    def dependants(self) -> dict[K, list[K]]:
        """Node -> the nodes that depend on it (the edges reversed), in the graph's order."""
        out: dict[K, list[K]] = {node: [] for node in self.deps}
        for node, targets in self.deps.items():
            for dep in targets:
                if dep in out:
                    out[dep].append(node)
        return out

    def order(self, rank: Callable[[K], Any] | None = None) -> list[K]:
        """Every node after its dependencies (Kahn's algorithm). Among the nodes ready at
        one time, the lowest ``rank(node)`` comes first (default: the graph's order).
        Raises :class:`CycleError` when a cycle leaves nodes unordered."""
        def key(node: K) -> tuple[Any, int]:
            return (rank(node) if rank is not None else 0), self._position[node]

        pending = {node: sum(1 for d in targets if d in self.deps)
                   for node, targets in self.deps.items()}
        dependants = self.dependants()
        ready = [(key(node), self._position[node], node) for node, n in pending.items() if not n]
        heapq.heapify(ready)
        ordered: list[K] = []
        while ready:
            node = heapq.heappop(ready)[2]
            ordered.append(node)
            for dependant in dependants[node]:
                pending[dependant] -= 1
                if not pending[dependant]:
                    heapq.heappush(ready, (key(dependant), self._position[dependant],
                                           dependant))
        if len(ordered) != len(self.deps):
            raise CycleError([node for node in self.deps if pending[node]])
        return ordered

    def depths(self) -> dict[K, int]:
        """Longest-path depth of every node: 0 with no dependency in the graph, else one
        more than its deepest dependency. An edge closing a cycle is not followed."""
        depth: dict[K, int] = {}
        on_path: set[K] = set()
        for start in self.deps:
            if start in depth:
                continue
            # Iterative depth-first walk: (node, index of the next dependency to visit).
            work: list[tuple[K, int]] = [(start, 0)]
            on_path.add(start)
            best: dict[K, int] = {start: 0}
            while work:
                node, i = work.pop()
                targets = self.deps[node]
                if i < len(targets):
                    work.append((node, i + 1))
                    dep = targets[i]
                    if dep not in self.deps or dep in on_path:
                        continue
                    if dep in depth:
                        best[node] = max(best[node], depth[dep] + 1)
                        continue
                    on_path.add(dep)
                    best[dep] = 0
                    work.append((dep, 0))
                    continue
                depth[node] = best.pop(node)
                on_path.discard(node)
                if work:
                    parent = work[-1][0]
                    best[parent] = max(best[parent], depth[node] + 1)
        return depth

    def cycles(self, sort_key: Callable[[K], Any] | None = None) -> list[list[K]]:
        """Every strongly connected component that holds a cycle, each once, its members
        in an order that walks the cycle from its first member (by ``sort_key``, default
        the graph's order). Tarjan's algorithm, iterative; a lone node counts only with an
        edge to itself."""
        key = sort_key or self._position.__getitem__
        index: dict[K, int] = {}
        low: dict[K, int] = {}
        on_stack: set[K] = set()
        stack: list[K] = []
        components: list[list[K]] = []
        counter = 0
        for start in sorted(self.deps, key=key):
            if start in index:
                continue
            work: list[tuple[K, int]] = [(start, 0)]
            while work:
                node, i = work.pop()
                if i == 0:
                    index[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack.add(node)
                edges = [d for d in self.deps[node] if d in self.deps]
                if i < len(edges):
                    work.append((node, i + 1))
                    nxt = edges[i]
                    if nxt not in index:
                        work.append((nxt, 0))
                    elif nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                    continue
                if low[node] == index[node]:
                    component: list[K] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in self.deps[node]:
                        components.append(self._cycle_order(component, key))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
        return sorted(components, key=lambda c: key(c[0]))

    def _cycle_order(self, component: list[K], key: Callable[[K], Any]) -> list[K]:
        members = set(component)
        node = min(component, key=key)
        order, seen = [node], {node}
        while True:
            nxt = next((n for n in self.deps[node] if n in members and n not in seen), None)
            if nxt is None:
                break
            order.append(nxt)
            seen.add(nxt)
            node = nxt
        order.extend(sorted(members - seen, key=key))
        return order
