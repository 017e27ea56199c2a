"""The committed generated code matches what `make proto` would generate now."""

from __future__ import annotations

from pathlib import Path

from tools.protogen import SERVICES_ROOT, generate, proto_files


def test_regenerating_the_wire_contract_changes_nothing(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh, "protoc generated nothing"
    committed_dir = SERVICES_ROOT / "flotilla" / "v1"
    fresh_names = {p.name for p in fresh}
    committed_names = {
        p.name for p in committed_dir.iterdir() if p.name.endswith(("_pb2.py", "_pb2.pyi"))
    }
    assert fresh_names == committed_names, "generated files differ from the committed set"
    stale = [p.name for p in fresh if p.read_bytes() != (committed_dir / p.name).read_bytes()]
    assert not stale, f"run `make proto` and commit: {stale} are out of date"


def test_every_proto_file_has_generated_code() -> None:
    stems = {p.stem for p in proto_files()}
    assert {"api", "events", "fleet", "cluster"} <= stems


def test_generated_messages_round_trip() -> None:
    from flotilla.v1 import api_pb2

    call = api_pb2.ApiCall(
        call_id="c-1",
        agent="AGENT",
        method="POST",
        path="/my/ships/S-1/extract",
        priority=api_pb2.PRIORITY_CLASS_COOLDOWN_START,
    )
    decoded = api_pb2.ApiCall.FromString(call.SerializeToString())
    assert decoded == call
    assert decoded.priority == api_pb2.PRIORITY_CLASS_COOLDOWN_START
