"""The audit export file on its own: written from synthetic records, every kind of tampering is found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.audit_export import (
    canonical_json,
    export_tenant,
    make_header,
    record_hash,
    sha256_hex,
    signature,
    verify_export,
    write_export,
)
from adapters.catalog.loader import default_catalog
from adapters.secret_box import AesSecretBox
from application.gateway import Gateway
from application.ports import Actor

KEY = AesSecretBox(b"k" * 32).export_key()
OTHER_KEY = AesSecretBox(b"o" * 32).export_key()
AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def record(position: int, org: str = "acme", city: str = "Paris") -> dict:
    return {
        "position": position,
        "id": f"00000000-0000-0000-0000-{position:012d}",
        "type": "Location.Created",
        "aggregate_type": "Location",
        "aggregate_id": "11111111-1111-1111-1111-111111111111",
        "version": position,
        "timestamp": "2025-01-02T03:04:05.000000Z",
        "tenant_id": org,
        "actor": {"sub": "alice", "role": "user"},
        "request_id": f"req-{position}",
        "data": {"site": {"name": "Hub Ünter", "city": city, "coordinates": {"latitude": 48.85, "longitude": 1e-05}}},
    }


RECORDS = [record(p) for p in (2, 3, 5, 8)]


def build(path: Path, records: list[dict] = RECORDS, key: bytes | None = KEY, store_position: int = 10) -> Path:
    write_export(path, make_header("acme", store_position, AT), records, key)
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(new_lines))
    return path


def problems(path: Path, key: bytes | None = KEY) -> list[str]:
    check = verify_export(path, key)
    assert not check.ok
    return check.problems


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return build(tmp_path / "acme.jsonl")


# -- intact files -----------------------------------------------------------------------------------------------


def test_an_intact_signed_file_passes(export):
    check = verify_export(export, KEY)
    assert check.ok and check.problems == []
    assert (check.org, check.count, check.store_position) == ("acme", 4, 10)
    assert check.signed and check.signature_checked


def test_the_file_is_canonical_json_lines_with_header_chain_and_trailer(export):
    raw = lines(export)
    parsed = [json.loads(line) for line in raw]
    assert all(canonical_json(p).encode() + b"\n" == line for p, line in zip(parsed, raw, strict=True))
    header, events, trailer = parsed[0], parsed[1:-1], parsed[-1]
    assert header == {
        "format": "ocpplab-audit-export",
        "version": 1,
        "org": "acme",
        "exported_at": "2025-01-02T03:04:05.000000Z",
        "store_position": 10,
        "generator": header["generator"],
    }
    assert header["generator"].startswith("ocpplab-gateway ")
    previous = sha256_hex(raw[0].rstrip(b"\n"))
    for line, expected in zip(events, RECORDS, strict=True):
        assert line["record"] == expected and line["prev"] == previous
        assert line["hash"] == record_hash(previous, expected)
        previous = line["hash"]
    assert trailer == {"trailer": True, "count": 4, "last_hash": previous, "signature": signature(KEY, previous)}


def test_an_empty_export_chains_the_trailer_to_the_header(tmp_path):
    path = build(tmp_path / "empty.jsonl", [])
    trailer = json.loads(lines(path)[-1])
    assert trailer["count"] == 0 and trailer["last_hash"] == sha256_hex(lines(path)[0].rstrip(b"\n"))
    assert verify_export(path, KEY).ok


def test_without_a_key_the_chain_is_checked_and_an_unsigned_file_is_refused_when_a_key_is_given(tmp_path):
    signed = verify_export(build(tmp_path / "signed.jsonl"))
    assert signed.ok and signed.signed and not signed.signature_checked
    unsigned = build(tmp_path / "unsigned.jsonl", key=None)
    assert verify_export(unsigned).ok
    assert json.loads(lines(unsigned)[-1])["signature"] is None
    assert any("not signed" in p for p in problems(unsigned, KEY))


# -- tampering --------------------------------------------------------------------------------------------------


def test_a_changed_byte_in_a_record_is_found_on_its_line(export):
    raw = lines(export)
    raw[2] = raw[2].replace(b'"city":"Paris"', b'"city":"Parix"')
    assert problems(rewrite(export, raw)) == ["line 3: hash does not match the record (the record was changed)"]


def test_a_changed_record_with_a_recomputed_hash_breaks_the_next_link(export):
    raw = lines(export)
    line = json.loads(raw[2])
    line["record"]["data"]["site"]["city"] = "Lyon"
    line["hash"] = record_hash(line["prev"], line["record"])
    raw[2] = canonical_json(line).encode() + b"\n"
    found = problems(rewrite(export, raw))
    assert found == ["line 4: prev does not link to the line before (a line was removed, inserted or moved)"]


def test_a_whole_chain_recomputed_without_the_key_is_caught_by_the_signature(tmp_path):
    genuine = build(tmp_path / "genuine.jsonl")
    forged = build(tmp_path / "forged.jsonl", [*RECORDS[:2], record(5, city="Lyon"), RECORDS[3]], key=None)
    trailer = json.loads(lines(forged)[-1])
    trailer["signature"] = json.loads(lines(genuine)[-1])["signature"]  # the genuine file's signature
    rewrite(forged, [*lines(forged)[:-1], canonical_json(trailer).encode() + b"\n"])
    assert verify_export(forged).ok  # the chain alone proves consistency, not origin
    assert problems(forged, KEY) == [
        "line 6: the signature does not match (another key signed it, or the file was changed)"
    ]


def test_a_deleted_line_is_found(export):
    raw = lines(export)
    del raw[2]
    found = problems(rewrite(export, raw))
    assert found[0] == "line 3: prev does not link to the line before (a line was removed, inserted or moved)"
    assert any("the trailer counts 4 events, the file holds 3" in p for p in found)


def test_deleting_the_last_event_is_found_by_the_trailer(export):
    raw = lines(export)
    del raw[-2]
    found = problems(rewrite(export, raw))
    assert any("last_hash is not the chain's last hash" in p for p in found)
    assert any("counts 4 events, the file holds 3" in p for p in found)


def test_swapped_lines_are_found(export):
    raw = lines(export)
    raw[2], raw[3] = raw[3], raw[2]
    found = problems(rewrite(export, raw))
    assert "line 3: prev does not link to the line before (a line was removed, inserted or moved)" in found
    assert "line 4: position 3 does not follow position 5 (lines reordered?)" in found


def test_an_inserted_line_is_found(export):
    raw = lines(export)
    raw.insert(3, raw[2])  # a replayed copy of an event
    found = problems(rewrite(export, raw))
    assert "line 4: prev does not link to the line before (a line was removed, inserted or moved)" in found
    assert "line 4: position 3 does not follow position 3 (lines reordered?)" in found


def test_a_chained_event_of_another_tenant_is_found(tmp_path):
    path = build(tmp_path / "mixed.jsonl", [*RECORDS[:2], record(4, org="globex"), *RECORDS[2:]])
    assert problems(path) == ["line 4: an event of tenant 'globex', not of 'acme'"]


def test_a_position_beyond_the_store_position_is_found(tmp_path):
    path = build(tmp_path / "late.jsonl", [*RECORDS, record(11)])
    assert problems(path) == ["line 6: position 11 is beyond the header's store_position 10"]


def test_a_truncated_file_is_found(export):
    raw = lines(export)
    assert problems(rewrite(export, raw[:-1])) == ["no trailer after line 5: the file was truncated"]
    found = problems(rewrite(export, [*raw[:-1], raw[-1][:40]]))
    assert found[0].startswith("line 6: the line is not terminated")
    assert "no trailer after line 6: the file was truncated" in found
    assert problems(rewrite(export, raw[:3]))[-1] == "no trailer after line 3: the file was truncated"


def test_a_changed_header_is_found(export):
    raw = lines(export)
    raw[0] = raw[0].replace(b'"store_position":10', b'"store_position":12')
    assert problems(rewrite(export, raw)) == [
        "line 2: prev does not link to the line before (a line was removed, inserted or moved)"
    ]


def test_a_signature_made_with_another_key_is_found(export):
    assert problems(export, OTHER_KEY) == [
        "line 6: the signature does not match (another key signed it, or the file was changed)"
    ]


def test_a_changed_signature_is_found(export):
    raw = lines(export)
    trailer = json.loads(raw[-1])
    trailer["signature"] = "0" * 64
    raw[-1] = canonical_json(trailer).encode() + b"\n"
    assert len(problems(rewrite(export, raw))) == 1


def test_lines_after_the_trailer_and_reformatted_lines_are_found(export):
    raw = lines(export)
    assert problems(rewrite(export, [*raw, raw[1]])) == ["line 7: a line after the trailer"]
    raw[1] = json.dumps(json.loads(raw[1])).encode() + b"\n"  # the same JSON, not canonical
    assert problems(rewrite(export, raw)) == [
        "line 2: not in canonical form (sorted keys, compact): the line was edited or reformatted"
    ]


def test_files_that_are_not_exports_are_refused(tmp_path):
    assert problems(rewrite(tmp_path / "empty.jsonl", [])) == ["the file is empty: no header"]
    assert problems(rewrite(tmp_path / "text.jsonl", [b"hello\n"]))[0].startswith("line 1: not a JSON object")
    other = rewrite(tmp_path / "other.jsonl", [b'{"format":"something-else","version":1}\n'])
    assert problems(other) == ["line 1: not an ocpplab-audit-export header"]
    future = rewrite(tmp_path / "v2.jsonl", [canonical_json({**make_header("acme", 1), "version": 2}).encode()])
    assert problems(future)[-1].startswith("line 1: unsupported version 2")


def test_duplicate_keys_are_refused(export):
    raw = lines(export)
    raw[1] = raw[1].replace(b'{"hash":', b'{"hash":"x","hash":', 1)
    assert problems(rewrite(export, raw))[0] == "line 2: not a JSON object (duplicate keys)"


# -- any single flipped byte ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    path = build(tmp_path_factory.mktemp("flip") / "acme.jsonl")
    return path, lines(path)


def parsed(data: bytes) -> list | None:
    """The file's lines as JSON values, or None when some line is not JSON."""
    try:
        return [json.loads(line) for line in data.split(b"\n")[:-1]] + [data.split(b"\n")[-1]]
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_is_found_unless_the_json_means_the_same(pristine, data):
    path, original = pristine
    index = data.draw(st.integers(0, len(original) - 1), label="line")
    line = bytearray(original[index])
    at = data.draw(st.integers(0, len(line) - 1), label="byte")
    line[at] ^= data.draw(st.integers(1, 255), label="xor")
    tampered = b"".join([*original[:index], bytes(line), *original[index + 1 :]])
    target = path.with_name("tampered.jsonl")
    target.write_bytes(tampered)
    check = verify_export(target, KEY)
    if parsed(tampered) != parsed(b"".join(original)):
        assert not check.ok, f"line {index + 1} byte {at}: {tampered.splitlines()[index]!r}"


# -- export from a store ----------------------------------------------------------------------------------------


def test_export_tenant_writes_only_the_tenants_events_in_log_order(tmp_path):
    app = Gateway(default_catalog(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    acme = Actor(sub="alice", role="user", tenant_id="acme", request_id="r1")
    globex = Actor(sub="bob", role="user", tenant_id="globex", request_id="r2")
    app.ensure_tenant(acme)
    app.ensure_tenant(globex)
    site = {"address": "1 Main", "city": "Paris", "country": "FR", "coordinates": {"latitude": 1, "longitude": 2}}
    app.create_location(acme, {**site, "name": "Hub"})
    app.create_location(globex, {**site, "name": "Theirs"})
    seen: list[tuple[int, int]] = []
    summary = export_tenant(app, "acme", tmp_path / "acme.jsonl", KEY, lambda p, end: seen.append((p, end)))
    app.create_location(acme, {**site, "name": "Later"})
    assert (summary.count, summary.store_position, summary.signed) == (2, 4, True)
    assert seen[-1] == (4, 4)
    events = [json.loads(line)["record"] for line in lines(tmp_path / "acme.jsonl")[1:-1]]
    assert [(e["position"], e["type"], e["tenant_id"]) for e in events] == [
        (1, "Tenant.Registered", "acme"),
        (3, "Location.Created", "acme"),
    ]
    assert events[1]["actor"] == {"sub": "alice", "role": "user"} and events[1]["request_id"] == "r1"
    check = verify_export(tmp_path / "acme.jsonl", KEY)
    assert check.ok and check.last_hash == summary.last_hash
    assert not (tmp_path / "acme.jsonl").with_name(".acme.jsonl.partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme.jsonl"]
