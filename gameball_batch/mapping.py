"""Match a file's column headers to a batch type's fields, check a mapping, keep saved ones.

A mapping is ``{field path: column header}``. Suggestions try, in order of trust: the exact
path (``customerId``), the path or label ignoring case, spaces and punctuation (``Customer
ID`` == ``customer_id``), the field's synonyms (``user id``), a nested field's own name
(``quantity``), and dotted headers (``custom.tier`` for ``customerAttributes.custom.tier``,
``metadata.stars`` for an event's metadata, ``extra.note``, ``lineItems.sku``). A header is
used for at most one field; required fields and better matches choose first.

It also tells ingest whether a row can be a type's header (:func:`header_test`, for files
with a title block above the header) and infers the kind of free-form columns
(:func:`column_kinds`, through ``parsing.infer_kind``) for the mapping step to show.

This module must not read files (ingest does), parse cell values (validate does) or import
streamlit. Field lists come only from ``batch_types``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from gameball_batch import parsing
from gameball_batch.batch_types import BatchType, FieldSpec

if TYPE_CHECKING:  # imported where frames are built: reading a file needs only arrow
    import pandas as pd

Mapping = dict[str, str]

# Match ranks, best first; `how` is what the console shows next to a suggestion.
_EXACT, _NORMALISED, _SYNONYM, _NAME, _DOTTED = range(5)


class MappingError(ValueError):
    """A mapping that cannot be used or stored; the message says what to fix."""


@dataclass(frozen=True)
class MappingSuggestion:
    """The suggested mapping and what it leaves open."""

    mapping: dict[str, str]
    unmapped_required: tuple[str, ...]
    unused_columns: tuple[str, ...]
    how: dict[str, str]  # field path -> "exact" | "normalised" | "synonym" | "dotted"


@dataclass(frozen=True, order=True)
class _Candidate:
    sort_key: tuple[int, int, int, int]
    path: str
    header: str
    how: str


def normalise(text: str) -> str:
    """Lower-case letters and digits only: "Customer ID" == "customer_id" == "customerId"."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def suggest_mapping(bt: BatchType, headers: Sequence[str]) -> MappingSuggestion:
    """The best mapping the headers allow; the operator confirms or changes it."""
    candidates = sorted(_candidates(bt, headers))
    mapping: dict[str, str] = {}
    how: dict[str, str] = {}
    used: set[str] = set()
    for cand in candidates:
        if cand.path in mapping or cand.header in used:
            continue
        mapping[cand.path] = cand.header
        how[cand.path] = cand.how
        used.add(cand.header)
    ordered = _in_field_order(bt, mapping, headers)
    missing = tuple(
        f.path for f in bt.required if f.path not in ordered and f.path != bt.generated_key
    )
    unused = tuple(h for h in headers if h not in used)
    return MappingSuggestion(ordered, missing, unused, {p: how[p] for p in ordered})


def mapping_problems(bt: BatchType, mapping: Mapping, headers: Sequence[str]) -> list[str]:
    """Operator messages for everything that stops the mapping from being used; [] if none."""
    active = {path: header for path, header in mapping.items() if header}
    problems = [
        f"'{path}' is not a field of {bt.title}. Remove it or choose one of the listed fields."
        for path in active
        if not bt.is_known(path)
    ]
    present = set(headers)
    problems += [
        f"Column '{header}' (mapped to {_label(bt, path)}) is not in the file. "
        "Choose one of the file's columns, or clear the field."
        for path, header in active.items()
        if header not in present
    ]
    problems += _mapped_twice(bt, active)
    problems += [
        f"{f.label} is required: map a column to it."
        for f in bt.required
        if f.path not in active and f.path != bt.generated_key
    ]
    problems += [
        "Map a column to at least one of " + _labels(bt, group) + "; every row needs one of them."
        for group in bt.one_of
        if not any(path in active for path in group)
    ]
    return problems


def apply_mapping(frame: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """The mapped columns renamed to field paths, in mapping order, with the same index."""
    active = {path: header for path, header in mapping.items() if header}
    missing = [header for header in active.values() if header not in frame.columns]
    if missing:
        listed = ", ".join(f"'{h}'" for h in dict.fromkeys(missing))
        raise MappingError(f"The file has no column {listed}. Check the mapping.")
    import pandas as pd

    columns = {path: frame[header] for path, header in active.items()}
    return pd.DataFrame(columns, index=frame.index)


def parse_map_options(items: Sequence[str]) -> dict[str, str]:
    """CLI ``--map field=Column Header`` options as a mapping."""
    mapping: dict[str, str] = {}
    for item in items:
        path, sep, header = item.partition("=")
        path, header = path.strip(), header.strip()
        if not sep or not path or not header:
            raise MappingError(
                f"'{item}' is not a mapping. Write it as field=Column Header, "
                "e.g. --map 'customerId=Customer ID'."
            )
        if path in mapping:
            raise MappingError(f"Field '{path}' is mapped twice. Give one --map per field.")
        mapping[path] = header
    return mapping


class MappingStore:
    """Named mappings per batch type, kept as one JSON file ({slug: {name: mapping}})."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def names(self, slug: str) -> list[str]:
        """The saved mapping names for a batch type, sorted."""
        return sorted(self._read().get(slug, {}))

    def load(self, slug: str, name: str) -> dict[str, str]:
        """One saved mapping; MappingError naming the saved ones if it does not exist."""
        saved = self._read().get(slug, {})
        if name not in saved:
            known = ", ".join(f"'{n}'" for n in sorted(saved)) or "none yet"
            raise MappingError(f"No saved mapping '{name}' for {slug}. Saved mappings: {known}.")
        return dict(saved[name])

    def save(self, slug: str, name: str, mapping: Mapping) -> None:
        """Save (or replace) a mapping; the file is replaced atomically."""
        name = name.strip()
        if not name:
            raise MappingError("Give the mapping a name before saving it.")
        data = self._read()
        data.setdefault(slug, {})[name] = {p: h for p, h in mapping.items() if h}
        self._write(data)

    def delete(self, slug: str, name: str) -> None:
        """Forget a saved mapping; nothing happens if it does not exist."""
        data = self._read()
        if data.get(slug, {}).pop(name, None) is not None:
            self._write(data)

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise MappingError(
                f"The saved-mappings file {self.path} is damaged. Delete it (saved mappings "
                "will be lost) or fix the JSON."
            ) from None
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, dict[str, str]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write a sibling temp file then rename: readers never see a half-written file.
        fd, tmp = tempfile.mkstemp(prefix=".mappings-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --- matching ----------------------------------------------------------------------------


def _candidates(bt: BatchType, headers: Sequence[str]) -> Iterable[_Candidate]:
    name_counts: dict[str, int] = {}
    for f in bt.fields:
        name_counts[f.name] = name_counts.get(f.name, 0) + 1
    for h_index, header in enumerate(headers):
        key = normalise(header)
        if not key:
            continue
        for f_index, spec in enumerate(bt.fields):
            rank = _rank(spec, header, key, unique_name=name_counts[spec.name] == 1)
            if rank is not None:
                how = _how(rank, header, spec)
                yield _Candidate(
                    (0 if spec.required else 1, rank, h_index, f_index), spec.path, header, how
                )
        dotted = _dotted_path(bt, header)
        if dotted is not None:
            how = "exact" if dotted == header else "dotted"
            yield _Candidate((1, _DOTTED, h_index, len(bt.fields)), dotted, header, how)


def _rank(spec: FieldSpec, header: str, key: str, *, unique_name: bool) -> int | None:
    if header.strip() == spec.path:
        return _EXACT
    if key in (normalise(spec.path), normalise(spec.label)):
        return _NORMALISED
    if key in {normalise(s) for s in spec.synonyms}:
        return _SYNONYM
    # A nested field's own name ("quantity", "sku") when no other field shares it.
    if spec.name != spec.path and unique_name and key == normalise(spec.name):
        return _NAME
    return None


def _how(rank: int, header: str, spec: FieldSpec) -> str:
    if rank == _EXACT or (rank == _NAME and header.strip() == spec.name):
        return "exact"
    return {_NORMALISED: "normalised", _SYNONYM: "synonym", _NAME: "normalised"}[rank]


def _dotted_path(bt: BatchType, header: str) -> str | None:
    """A dotted header naming a field segment by segment, or a free-form path."""
    raw = [segment.strip() for segment in header.split(".")]
    if len(raw) < 2 or not all(raw):
        return None
    keys = [normalise(segment) for segment in raw]
    for spec in bt.fields:
        if keys == [normalise(s) for s in spec.path.split(".")]:
            return spec.path
    for prefix in bt.open_prefixes:
        parts = prefix.rstrip(".").split(".")
        # "customerAttributes.custom.tier", then the shorter "custom.tier".
        for start in range(len(parts)):
            tail = [normalise(p) for p in parts[start:]]
            if keys[: len(tail)] == tail and len(keys) > len(tail):
                return prefix + ".".join(raw[len(tail) :])
    return None


def _in_field_order(bt: BatchType, mapping: dict[str, str], headers: Sequence[str]) -> Mapping:
    ordered = {f.path: mapping[f.path] for f in bt.fields if f.path in mapping}
    position = {h: i for i, h in enumerate(headers)}
    extra = sorted((p for p in mapping if p not in ordered), key=lambda p: position[mapping[p]])
    ordered.update({p: mapping[p] for p in extra})
    return ordered


def _mapped_twice(bt: BatchType, active: Mapping) -> list[str]:
    by_header: dict[str, list[str]] = {}
    for path, header in active.items():
        by_header.setdefault(header, []).append(path)
    return [
        f"Column '{header}' is mapped to {_labels(bt, paths)}. Map it to one field only."
        for header, paths in by_header.items()
        if len(paths) > 1
    ]


def _label(bt: BatchType, path: str) -> str:
    spec = bt.spec_for(path)
    return spec.label if spec is not None and spec.path in {f.path for f in bt.fields} else path


def _labels(bt: BatchType, paths: Iterable[str]) -> str:
    names = [_label(bt, p) for p in paths]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


# --- the header row and free-form kinds -------------------------------------------------------


def header_test(bt: BatchType, explicit: AnyMapping[str, str] | None = None,
                ) -> Callable[[Sequence[str]], bool]:
    """Whether a row's cells could be this type's header: with ``explicit`` (``--map``) and
    the suggestions, every required field (and one of each one-of group) has a column."""
    chosen = dict(explicit or {})

    def test(cells: Sequence[str]) -> bool:
        named = [c for c in cells if c]
        if not named:
            return False
        mapping = {**suggest_mapping(bt, named).mapping, **chosen}
        present = set(named)
        active = {p for p, h in mapping.items() if h in present}
        required = all(f.path in active for f in bt.required if f.path != bt.generated_key)
        return required and all(any(p in active for p in g) for g in bt.one_of)

    return test


def free_form_paths(bt: BatchType, mapping: AnyMapping[str, str]) -> list[str]:
    """The mapped paths that are custom attributes or event metadata, in mapping order."""
    fixed = {f.path for f in bt.fields}
    return [p for p in mapping if p not in fixed and bt.spec_for(p) is not None]


def column_kinds(
    bt: BatchType, frame: pd.DataFrame, mapping: AnyMapping[str, str], *, decimal: str = "dot",
) -> dict[str, str]:
    """Each free-form column's inferred kind ("number", "yes-no" or "text"), by path."""
    kinds: dict[str, str] = {}
    for path in free_form_paths(bt, mapping):
        header = mapping[path]
        if header in frame.columns:
            kinds[path] = parsing.infer_kind(pa.array(frame[header].astype("str").array),
                                             decimal=decimal)
    return kinds


def parse_kind_options(items: Sequence[str]) -> dict[str, str]:
    """CLI ``--kind metadata.stars=number`` options as {path: kind}."""
    kinds: dict[str, str] = {}
    for item in items:
        path, sep, word = item.partition("=")
        kind = parsing.parse_kind(word)
        if not sep or not path.strip() or kind is None:
            raise MappingError(
                f"'{item}' is not a column kind. Write it as field=KIND with KIND one of "
                f"{', '.join(parsing.KINDS)}, e.g. --kind metadata.stars=number."
            )
        kinds[path.strip()] = kind
    return kinds
