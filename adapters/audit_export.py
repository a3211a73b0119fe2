"""A tenant's event history as a self-verifying file: hash-chained JSON Lines, signed at the end.

Line 1 is a header (format, version, org, when, up to which log position). Each next line holds one event
of the tenant as auditors read it (`event_record`) with `prev` and `hash` = sha256(prev + canonical record);
the first `prev` is the sha256 of the header line, so the header is in the chain too. The last line is a
trailer with the event count, the last hash and HMAC-SHA256(export key, last hash). Anyone can check the
chain (`verify_export`); only the holder of the gateway's secret key can check, or forge, the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.store.projections import event_record, iso

if TYPE_CHECKING:
    from application.gateway import Gateway

FORMAT = "ocpplab-audit-export"
VERSION = 1
MAX_PROBLEMS = 100
HEADER_KEYS = frozenset({"format", "version", "org", "exported_at", "store_position", "generator"})
EVENT_KEYS = frozenset({"record", "prev", "hash"})
TRAILER_KEYS = frozenset({"trailer", "count", "last_hash", "signature"})

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportSummary:
    org: str
    path: Path
    count: int
    last_hash: str
    store_position: int
    signed: bool


@dataclass
class ExportCheck:
    org: str | None = None
    count: int = 0
    store_position: int | None = None
    last_hash: str | None = None
    signed: bool = False
    signature_checked: bool = False
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def problem(self, line: int | None, text: str) -> None:
        """Records a finding; only the first MAX_PROBLEMS are kept, all are counted."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"line {line}: {text}" if line is not None else text)


# -- the format ----------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """The one serialization that is hashed and written: sorted keys, compact, UTF-8 text, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def record_hash(prev: str, record: dict[str, Any]) -> str:
    return sha256_hex(prev + canonical_json(record))


def signature(signing_key: bytes, last_hash: str) -> str:
    return hmac.new(signing_key, last_hash.encode(), hashlib.sha256).hexdigest()


def make_header(org: str, store_position: int, exported_at: datetime | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "org": org,
        "exported_at": iso(exported_at or datetime.now(UTC)),
        "store_position": store_position,
        "generator": f"ocpplab-gateway {_package_version()}",
    }


def write_export(
    out: Path, header: dict[str, Any], records: Iterable[dict[str, Any]], signing_key: bytes | None
) -> tuple[int, str]:
    """Writes header, chained records and trailer; returns (count, last hash).

    The file appears atomically at `out` once complete: a failed export leaves nothing that looks like one.
    """
    draft = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with draft.open("wb") as handle:
            header_line = canonical_json(header).encode()
            handle.write(header_line + b"\n")
            previous, count = sha256_hex(header_line), 0
            for record in records:
                digest = record_hash(previous, record)
                handle.write(canonical_json({"record": record, "prev": previous, "hash": digest}).encode() + b"\n")
                previous, count = digest, count + 1
            trailer = {
                "trailer": True,
                "count": count,
                "last_hash": previous,
                "signature": signature(signing_key, previous) if signing_key else None,
            }
            handle.write(canonical_json(trailer).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(draft, out)
    finally:
        draft.unlink(missing_ok=True)
    return count, previous


# -- export from the store -----------------------------------------------------------------------------------


def export_tenant(
    gateway: Gateway, org: str, out: Path, signing_key: bytes | None, progress: Progress | None = None
) -> ExportSummary:
    """Exports every event of `org` in log order, up to the log position at the start of the export."""
    store_position = gateway.position()
    count, last_hash = write_export(
        out,
        make_header(org, store_position),
        tenant_records(gateway, org, store_position, progress=progress),
        signing_key,
    )
    return ExportSummary(org, out, count, last_hash, store_position, signing_key is not None)


def tenant_records(
    gateway: Gateway, org: str, until: int, batch: int = 1000, progress: Progress | None = None
) -> Iterator[dict[str, Any]]:
    """The tenant's events as audit records (JSON values only), in log order, positions 1..until."""
    recorder: Any = gateway.recorder
    position = 0
    while position < until:
        notifications = recorder.select_notifications(start=position, limit=batch, inclusive_of_start=False)
        if not notifications:
            break
        for notification in notifications:
            if notification.id > until:
                break
            event = gateway.mapper.to_domain_event(notification)
            meta = getattr(event, "meta", None) or {}
            if meta.get("tenant_id") == org:
                # round-trip through JSON: the hash covers exactly what a reader of the file parses
                yield json.loads(json.dumps(event_record(notification.id, event), default=str, allow_nan=False))
        position = min(notifications[-1].id, until)
        if progress:
            progress(position, until)


# -- offline verification ------------------------------------------------------------------------------------


def verify_export(path: Path, signing_key: bytes | None = None) -> ExportCheck:
    """Checks an export file on its own (no store): header, every link and hash, positions, org, trailer, signature.

    Raises OSError when the file cannot be read at all.
    """
    check = ExportCheck(signature_checked=signing_key is not None)
    previous: str | None = None
    last_position = 0
    trailer: tuple[int, dict[str, Any]] | None = None
    number = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                check.problem(number, "the line is not terminated (the file was cut short?)")
            line = raw.removesuffix(b"\n")
            value = _parse(check, number, line)
            if number == 1:
                if not _header_ok(check, value):
                    return check
                previous = sha256_hex(line)
                continue
            if trailer is not None:
                check.problem(number, "a line after the trailer")
                continue
            if value is None:
                continue
            if "trailer" in value:
                trailer = (number, value)
                continue
            previous, last_position = _check_event(check, number, value, previous or "", last_position)
    if number == 0:
        check.problem(None, "the file is empty: no header")
        return check
    check.last_hash = previous
    if trailer is None:
        check.problem(None, f"no trailer after line {number}: the file was truncated")
        return check
    _check_trailer(check, *trailer, previous or "", signing_key)
    return check


def _parse(check: ExportCheck, number: int, line: bytes) -> dict[str, Any] | None:
    """The line's JSON object, or None (and a problem) when it is not one in canonical form."""
    try:
        value = json.loads(line.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as error:
        check.problem(number, f"not a JSON object ({error})")
        return None
    if not isinstance(value, dict):
        check.problem(number, "not a JSON object")
        return None
    if canonical_json(value).encode() != line:
        check.problem(number, "not in canonical form (sorted keys, compact): the line was edited or reformatted")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate keys")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _header_ok(check: ExportCheck, header: dict[str, Any] | None) -> bool:
    """Whether line 1 is a header this verifier understands (nothing further is checked otherwise)."""
    if header is None:
        return False
    if header.get("format") != FORMAT:
        check.problem(1, f"not an {FORMAT} header")
        return False
    if type(header.get("version")) is not int or header["version"] != VERSION:
        check.problem(1, f"unsupported version {header.get('version')!r} (this verifier reads version {VERSION})")
        return False
    if set(header) != HEADER_KEYS:
        check.problem(1, f"header fields {sorted(header)} are not {sorted(HEADER_KEYS)}")
    org, store_position = header.get("org"), header.get("store_position")
    if not isinstance(org, str) or not org:
        check.problem(1, "the header names no org")
    else:
        check.org = org
    if type(store_position) is not int or store_position < 0:
        check.problem(1, "the header's store_position is not a log position")
    else:
        check.store_position = store_position
    return True


def _check_event(
    check: ExportCheck, number: int, line: dict[str, Any], previous: str, last_position: int
) -> tuple[str, int]:
    """Checks one event line; returns the chain's next `previous` and the last position seen."""
    check.count += 1
    if set(line) != EVENT_KEYS:
        check.problem(number, f"event line fields {sorted(line)} are not {sorted(EVENT_KEYS)}")
    record, prev, stored = line.get("record"), line.get("prev"), line.get("hash")
    if prev != previous:
        check.problem(number, "prev does not link to the line before (a line was removed, inserted or moved)")
    if not isinstance(record, dict):
        check.problem(number, "no event record")
        return (stored if isinstance(stored, str) else previous), last_position
    expected = record_hash(prev if isinstance(prev, str) else previous, record)
    if stored != expected:
        check.problem(number, "hash does not match the record (the record was changed)")
    position = record.get("position")
    if type(position) is not int:
        check.problem(number, "the record has no log position")
    else:
        if position <= last_position:
            check.problem(number, f"position {position} does not follow position {last_position} (lines reordered?)")
        if check.store_position is not None and position > check.store_position:
            check.problem(number, f"position {position} is beyond the header's store_position {check.store_position}")
        last_position = max(last_position, position)
    if check.org is not None and record.get("tenant_id") != check.org:
        check.problem(number, f"an event of tenant {record.get('tenant_id')!r}, not of {check.org!r}")
    return (stored if isinstance(stored, str) else expected), last_position


def _check_trailer(
    check: ExportCheck, number: int, trailer: dict[str, Any], last_hash: str, signing_key: bytes | None
) -> None:
    if set(trailer) != TRAILER_KEYS or trailer.get("trailer") is not True:
        check.problem(number, f"trailer fields {sorted(trailer)} are not {sorted(TRAILER_KEYS)}")
    count = trailer.get("count")
    if type(count) is not int or count != check.count:
        check.problem(number, f"the trailer counts {count!r} events, the file holds {check.count}")
    if trailer.get("last_hash") != last_hash:
        check.problem(number, "the trailer's last_hash is not the chain's last hash (lines removed or changed)")
    signed = trailer.get("signature")
    check.signed = signed is not None
    if signing_key is None:
        return
    if signed is None:
        check.problem(number, "the file is not signed")
    elif not isinstance(signed, str) or not hmac.compare_digest(
        signed.encode(), signature(signing_key, str(trailer.get("last_hash"))).encode()
    ):
        check.problem(number, "the signature does not match (another key signed it, or the file was changed)")


def _package_version() -> str:
    try:
        return version("ocpplab-gateway")
    except PackageNotFoundError:
        return "0.0.0"
