"""``emgspasm batch --scheduler``: a real Dask distributed LocalCluster on localhost.

Two workers (threads, talking TCP to the scheduler, so tasks and results really are serialised
and sent) process the short simulated recordings and a corrupt one through the same
per-recording function as the local pool: every good result must be identical to
``emgspasm detect``, the corrupt one reported, the cohort table right. The batch only connects:
it adds no listening socket of its own.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import psutil
import pytest

from emgspasm.batch import EXIT_FAILED, DaskExecutor
from emgspasm.cli import main

from .test_batch import SPECS, batch_recordings, check_results, cohort, expected_counts

__all__ = ["batch_recordings"]  # the shared fixture


def listening() -> set:
    return {
        c.laddr
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.fixture
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as c:
        yield c


def test_batch_on_a_dask_cluster_matches_detect(
    batch_recordings: dict, cluster, tmp_path: Path, capsys
) -> None:
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    sockets = listening()
    with DaskExecutor(address) as executor:
        assert executor.workers == 2
        assert listening() == sockets  # a client connects; it does not listen

    out = tmp_path / "cohort"
    pattern = str(batch_recordings["dir"] / "*.bdf")
    rc = main(["batch", pattern, "--out", str(out), "--scheduler", address])
    captured = capsys.readouterr()
    assert rc == EXIT_FAILED
    assert f"Dask cluster at {address} (2 worker thread(s))" in captured.out
    assert "corrupt.bdf" in captured.err and "cut short" in captured.err

    executed = [w.state.executed_count for w in cluster.workers.values()]
    assert sum(executed) == len(SPECS) + 1 and min(executed) >= 1  # both workers had work

    check_results(out, batch_recordings)
    table = cohort(out)
    assert list(table) == sorted(["corrupt", *SPECS])  # one row per recording, in name order
    bad = table.pop("corrupt")
    assert bad["status"] == "error" and "cut short" in bad["error"] and bad["spasms"] == ""
    for name, row in table.items():
        seconds = SPECS[name][1]
        want = expected_counts(batch_recordings["expected"][name], seconds)
        assert row["status"] == "ok" and row["error"] == "" and row["reused"] == "0"
        assert float(row["duration_s"]) == pytest.approx(seconds)
        assert int(row["spasms"]) == want["spasms"]
        assert int(row["fasciculations"]) == want["fasciculations"]
        assert float(row["spasms_per_h"]) == pytest.approx(want["spasms_per_h"], abs=1e-3)
        assert float(row["fasciculations_per_min"]) == pytest.approx(
            want["fasciculations_per_min"], abs=1e-3
        )
        if want["mean_spasm_duration_s"] is None:
            assert row["mean_spasm_duration_s"] == ""
        else:
            assert float(row["mean_spasm_duration_s"]) == pytest.approx(
                want["mean_spasm_duration_s"], abs=1e-3
            )
        assert 0.0 <= float(row["quality_share"]) <= 1.0
    assert any(r["spasms"] != "0" for r in table.values())
    assert any(r["fasciculations"] != "0" for r in table.values())
    summary = json.loads((out / "corrupt.summary.json").read_text())
    assert summary["status"] == "error" and summary["recording"].endswith("corrupt.bdf")
    assert stat.S_IMODE((out / "cohort.csv").stat().st_mode) == 0o600

    # The same batch again on the cluster: the good ones are done, only the corrupt one is tried.
    assert main(["batch", pattern, "--out", str(out), "--scheduler", address, "--quiet"]) == 2
    assert sum(w.state.executed_count for w in cluster.workers.values()) == sum(executed) + 1
    assert {r["reused"] for n, r in cohort(out).items() if n != "corrupt"} == {"1"}
