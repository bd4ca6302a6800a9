"""Several engines without an engine: which engines a collect names, and how one lost engine
becomes a partial collect (the others kept, exit code 4) rather than a failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from claude_perf.collect import run as run_mod
from claude_perf.collect.dispatch import collect
from claude_perf.collect.engines import EngineSpec, engine_facts, engine_specs
from claude_perf.collect.run import CollectOutcome, CollectRequest, ContainerOutcome
from claude_perf.errors import EngineError, PartialCollect, TargetError, UsageError


def test_engine_specs_in_order_once_each_default_when_none() -> None:
    specs = engine_specs(["unix:///a.sock", "tcp://10.0.0.2:2375", "unix:///a.sock"], ["prod"])
    assert [s.label for s in specs] == ["unix:///a.sock", "tcp://10.0.0.2:2375", "context:prod"]
    assert engine_specs([], []) == (EngineSpec(),)
    assert EngineSpec().label == "default"
    with pytest.raises(UsageError, match=r"--host 'docker\.example:2375' is not an engine URL"):
        engine_specs(["docker.example:2375"], [])


def test_engine_facts_keep_the_id_the_store_keys_by() -> None:
    info = {"ID": "HPZS:X67L", "Name": "build-host", "Swarm": {}}
    assert engine_facts(info, EngineSpec(host="unix:///b.sock")) == {
        "id": "HPZS:X67L",
        "name": "build-host",
        "label": "unix:///b.sock",
    }


STORE = {"path": Path("unset.db")}


def _outcome(name: str, engine: str) -> CollectOutcome:
    return CollectOutcome(
        STORE["path"], (ContainerOutcome(name, name, 3, 3, 1, 0, engine=engine),), notes=("n",)
    )


def test_a_lost_engine_is_named_and_the_others_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    STORE["path"] = tmp_path / "s.db"

    def fake(spec: EngineSpec, request: CollectRequest, one_of_several: bool = False) -> Any:
        assert one_of_several
        if spec.host == "unix:///dead.sock":
            raise EngineError("cannot reach the Docker Engine at unix:///dead.sock: refused")
        if spec.host == "unix:///empty.sock":
            raise TargetError("none of the named containers runs on this engine")
        return _outcome(f"c-{spec.host}", str(spec.host))

    monkeypatch.setattr(run_mod, "collect_engine", fake)
    hosts = ("unix:///one.sock", "unix:///dead.sock", "unix:///empty.sock", "unix:///two.sock")
    outcome = collect(CollectRequest(hosts=hosts))
    assert [c.engine for c in outcome.containers] == ["unix:///one.sock", "unix:///two.sock"]
    assert outcome.missing == (
        "unix:///dead.sock: cannot reach the Docker Engine at unix:///dead.sock: refused",
    )
    assert outcome.lines_new == 6 and outcome.notes == ("n", "n")
    assert PartialCollect("x").exit_code == 4
    # the missing engine is recorded as a gap of the collect, for reports of the window
    from claude_perf.store.db import Store
    from claude_perf.store.read import collection_gaps

    with Store(tmp_path / "s.db") as store:
        (gap,) = collection_gaps(store, None, None, ["c-unix:///one.sock"])
    assert gap.endswith("noted: engine missing from this collect: " + outcome.missing[0])


def test_no_engine_collected_is_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def dead(spec: EngineSpec, request: CollectRequest, one_of_several: bool = False) -> Any:
        raise EngineError(f"cannot reach {spec.label}")

    monkeypatch.setattr(run_mod, "collect_engine", dead)
    with pytest.raises(EngineError, match="no engine could be collected"):
        collect(CollectRequest(hosts=("unix:///a.sock", "unix:///b.sock")))

    def untargeted(spec: EngineSpec, request: CollectRequest, one_of_several: bool = False) -> Any:
        raise TargetError(f"no container on {spec.label}")

    monkeypatch.setattr(run_mod, "collect_engine", untargeted)
    with pytest.raises(TargetError, match=r"no container on unix:///a\.sock"):
        collect(CollectRequest(hosts=("unix:///a.sock", "unix:///b.sock")))


def test_ctrl_c_stops_every_engine_keeping_what_each_gathered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import signal
    import threading
    import time

    started = [threading.Event(), threading.Event()]
    deadline = time.monotonic() + 60

    def busy(spec: EngineSpec, request: CollectRequest, one_of_several: bool = False) -> Any:
        index = 0 if spec.host == "unix:///a.sock" else 1
        started[index].set()
        try:
            while time.monotonic() < deadline:  # a long log read or --duration sampling
                time.sleep(0.01)
        except KeyboardInterrupt:
            outcome = _outcome(f"c{index}", str(spec.host))
            return CollectOutcome(outcome.store, outcome.containers, interrupted=True)
        raise AssertionError("never interrupted")

    def press_ctrl_c() -> None:
        for event in started:
            event.wait(30)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(run_mod, "collect_engine", busy)
    threading.Thread(target=press_ctrl_c, daemon=True).start()
    outcome = collect(CollectRequest(hosts=("unix:///a.sock", "unix:///b.sock")))
    assert outcome.interrupted
    assert [c.name for c in outcome.containers] == ["c0", "c1"]
    assert time.monotonic() < deadline
