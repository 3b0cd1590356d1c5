"""Sharded sampling on a Dask cluster: byte-identical parts, the manifest, resume, safety."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.datasets import load_adult
from synthkit.errors import ModelFileError, ShardedOutputError
from synthkit.generators import sharding
from synthkit.generators.persistence import model_bytes

distributed = pytest.importorskip("dask.distributed")
DATA = Path(__file__).parent / "data"

N, SHARD = 2_500, 1_000  # three parts: 1000, 1000, 500


@pytest.fixture(scope="module")
def model():
    return synthkit.Synthesizer("tvae", epochs=1, verbose=False, random_state=0).fit(
        load_adult().head(400)
    )


def _cluster(n_workers: int):
    cluster = distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    return cluster, distributed.Client(cluster)


@pytest.fixture(scope="module")
def one_worker():
    cluster, client = _cluster(1)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def two_workers():
    cluster, client = _cluster(2)
    yield client
    client.close()
    cluster.close()


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(scope="module")
def reference(model, one_worker, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reference")
    model.sample_to(path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    return path


def test_parts_are_byte_identical_with_one_and_two_workers(
    model, reference, two_workers, tmp_path
) -> None:
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=two_workers)
    assert sorted(_files(tmp_path)) == [
        "_manifest.json",
        "part-000000.parquet",
        "part-000001.parquet",
        "part-000002.parquet",
    ]
    assert _files(tmp_path) == _files(reference)  # the manifest too: it has no timestamps
    frame = pd.read_parquet(tmp_path)
    assert len(frame) == N and list(frame.columns) == list(load_adult().columns)


def test_manifest_records_the_run(model, reference) -> None:
    manifest = json.loads((reference / "_manifest.json").read_text())
    assert manifest["model"] == {
        "name": "tvae",
        "sha256": hashlib.sha256(model_bytes(model)).hexdigest(),
    }
    assert (manifest["random_state"], manifest["n"], manifest["shard_rows"]) == (0, N, SHARD)
    assert {"synthkit", "numpy", "pyarrow", "torch", "dask"} <= set(manifest["versions"])
    children = np.random.SeedSequence(0).spawn(3)
    for i, part in enumerate(manifest["parts"]):
        assert part["file"] == f"part-{i:06d}.parquet"
        assert part["rows"] == [1000, 1000, 500][i]
        assert (part["seed_entropy"], part["spawn_key"]) == (0, [i])
        assert part["seed"] == int(children[i].generate_state(1, np.uint64)[0] >> np.uint64(1))
        data = (reference / part["file"]).read_bytes()
        assert part["sha256"] == hashlib.sha256(data).hexdigest()
        assert len(pd.read_parquet(reference / part["file"])) == part["rows"]


def test_a_different_seed_gives_different_bytes(model, reference, one_worker, tmp_path) -> None:
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=1, client=one_worker)
    for name in ("part-000000.parquet", "part-000002.parquet"):
        assert (tmp_path / name).read_bytes() != (reference / name).read_bytes()


def test_resume_draws_only_missing_and_half_written_parts(
    model, reference, one_worker, tmp_path, monkeypatch
) -> None:
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    # A crash: part 1 removed, part 2 killed mid-write (only its temporary file is
    # left), the manifest not yet written.
    (tmp_path / "part-000001.parquet").unlink()
    (tmp_path / "part-000002.parquet").unlink()
    (tmp_path / ".part-000002.parquet.deadbeef.tmp").write_bytes(b"PAR1 half a part")
    (tmp_path / "_manifest.json").unlink()
    drawn: list[int] = []
    submit = one_worker.submit

    def counting(function, *args, **kwargs):
        if function is sharding.write_shard:
            drawn.append(args[3])  # the shard index
        return submit(function, *args, **kwargs)

    monkeypatch.setattr(one_worker, "submit", counting)
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    assert sorted(drawn) == [1, 2]
    assert _files(tmp_path) == _files(reference)  # the temporary file is gone
    drawn.clear()
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    assert drawn == []  # complete: nothing drawn again


def test_a_damaged_part_is_drawn_again(model, reference, one_worker, tmp_path) -> None:
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    part = tmp_path / "part-000000.parquet"
    part.write_bytes(part.read_bytes()[:100])
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    assert _files(tmp_path) == _files(reference)


def test_output_of_a_different_run_is_refused_unless_overwrite(
    model, reference, one_worker, tmp_path
) -> None:
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    with pytest.raises(ShardedOutputError, match=r"different run.*random_state.*overwrite=True"):
        model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=5, client=one_worker)
    # Without a manifest, the parts' own fingerprints tell the runs apart.
    (tmp_path / "_manifest.json").unlink()
    with pytest.raises(ShardedOutputError, match=r"part-000000\.parquet was written by a"):
        model.sample_to(tmp_path, 2 * N, shard_rows=SHARD, random_state=0, client=one_worker)
    manifest = model.sample_to(
        tmp_path, 1_500, shard_rows=SHARD, random_state=0, client=one_worker, overwrite=True
    )
    assert [p["rows"] for p in manifest["parts"]] == [1000, 500]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_manifest.json",
        "part-000000.parquet",
        "part-000001.parquet",
    ]


def test_conditions_hold_in_every_part(model, one_worker, tmp_path) -> None:
    manifest = model.sample_to(
        tmp_path,
        1_200,
        shard_rows=500,
        random_state=3,
        conditions={"sex": "Female"},
        client=one_worker,
    )
    assert manifest["conditions"] == {"sex": "Female"}
    for part in manifest["parts"]:
        frame = pd.read_parquet(tmp_path / part["file"])
        assert len(frame) == part["rows"] and (frame["sex"] == "Female").all()


def test_workers_receive_the_model_file_bytes_never_a_pickle(
    model, one_worker, tmp_path, monkeypatch
) -> None:
    submitted: list[tuple] = []
    submit = one_worker.submit

    def spy_submit(function, *args, **kwargs):
        submitted.append((function, args))
        return submit(function, *args, **kwargs)

    monkeypatch.setattr(one_worker, "submit", spy_submit)
    model.sample_to(tmp_path, 100, shard_rows=50, client=one_worker)
    # Once, as the model file's bytes (a task the scheduler can redo), then the shards.
    carriers = [args for function, args in submitted if function is not sharding.write_shard]
    assert carriers == [(model_bytes(model),)]
    shards = [args for function, args in submitted if function is sharding.write_shard]
    assert len(shards) == 2
    for args in shards:
        assert not any(isinstance(a, synthkit.Synthesizer) for a in args)
        assert isinstance(args[0], distributed.Future)
    expected = hashlib.sha256(model_bytes(model)).hexdigest()
    tampered = bytearray(model_bytes(model))
    tampered[-40] ^= 1
    spec = {"model": {"sha256": expected}, "random_state": 0, "conditions": None}
    with pytest.raises(ModelFileError, match="changed or damaged"):
        sharding.write_shard(bytes(tampered), spec, str(tmp_path / "t"), 0, 10)


def test_model_bytes_round_trip_and_load_model_bytes(model, tmp_path) -> None:
    data = model_bytes(model)
    again = synthkit.generators.persistence.load_model_bytes(
        data, sha256=hashlib.sha256(data).hexdigest()
    )
    assert model_bytes(again) == data
    path = model.save(tmp_path / "m.synthkit")
    assert model_bytes(synthkit.load_model(path)) == data


def test_bad_arguments_are_refused(model, tmp_path) -> None:
    with pytest.raises(synthkit.errors.ParameterError, match="random_state"):
        model.sample_to(tmp_path, 10, random_state=None)
    with pytest.raises(synthkit.errors.ParameterError, match="shard_rows"):
        model.sample_to(tmp_path, 10, shard_rows=0)
    with pytest.raises(synthkit.errors.ParameterError, match="for sequence models"):
        model.sample_to(tmp_path, n_entities=10)
    with pytest.raises(synthkit.errors.NotFittedError):
        synthkit.SequenceSynthesizer("ar").sample_to(tmp_path, n_entities=10)
    with pytest.raises(ShardedOutputError, match="does not support str"):
        sharding.sample_to("a model", str(tmp_path), 10)


def test_missing_dask_names_the_extra(model, tmp_path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(synthkit.errors.MissingDependencyError, match=r"synthkit\[dask\]"):
        model.sample_to(tmp_path, 10)


@pytest.mark.slow
def test_cli_on_a_local_cluster_of_processes_writes_the_same_bytes(
    model, reference, tmp_path
) -> None:
    from typer.testing import CliRunner

    from synthkit.cli import app

    path = model.save(tmp_path / "model.synthkit")
    out = tmp_path / "out"
    arguments = ["sample", str(path), "--output", str(out), "--rows", str(N)]
    result = CliRunner().invoke(app, [*arguments, "--shard-rows", str(SHARD), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "3 Parquet parts" in result.output
    assert _files(out) == _files(reference)


def test_a_failing_shard_is_retried_then_reported_and_a_rerun_finishes(
    model, reference, one_worker, tmp_path, monkeypatch
) -> None:
    # In-process workers share this module, so a patched writer reaches them.
    failures = {"left": 1}
    put = sharding._atomic_put

    def flaky(fs, target, payload):
        if target.endswith("part-000001.parquet") and failures["left"]:
            failures["left"] -= 1
            raise OSError("disk went away")
        return put(fs, target, payload)

    monkeypatch.setattr(sharding, "_atomic_put", flaky)
    manifest = model.sample_to(tmp_path / "a", N, shard_rows=SHARD, client=one_worker, retries=1)
    assert manifest["run"]["retried"] == {"1": 2}
    assert _files(tmp_path / "a") == _files(reference)  # retried: the same bytes
    failures["left"] = 1
    with pytest.raises(ShardedOutputError, match=r"Shard 1 failed after 0 retries.*rerun"):
        model.sample_to(tmp_path / "b", N, shard_rows=SHARD, client=one_worker, retries=0)
    assert not (tmp_path / "b" / "part-000001.parquet").exists()
    model.sample_to(tmp_path / "b", N, shard_rows=SHARD, client=one_worker, retries=0)
    assert _files(tmp_path / "b") == _files(reference)


def test_a_part_changed_since_it_was_written_is_drawn_again(
    model, reference, one_worker, tmp_path
) -> None:
    import pyarrow.parquet as pq

    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    # The same run's fingerprints, but other bytes than the manifest lists, or too few rows.
    first, second = tmp_path / "part-000000.parquet", tmp_path / "part-000001.parquet"
    pq.write_table(pq.read_table(first), first, compression="gzip")
    pq.write_table(pq.read_table(second).slice(0, 10), second)
    model.sample_to(tmp_path, N, shard_rows=SHARD, random_state=0, client=one_worker)
    assert _files(tmp_path) == _files(reference)


@pytest.mark.slow
def test_a_worker_killed_mid_write_is_replaced_and_the_bytes_are_the_same(
    model, reference, tmp_path
) -> None:
    marker = str(tmp_path / "killed")

    def die_writing_part_one() -> None:
        # Runs in each worker process: the first worker to write part 1 writes half of
        # it to a temporary file and dies, as a process killed by the OS would.
        import os
        import signal

        from synthkit.generators import sharding as on_worker

        put = on_worker._atomic_put

        def dying(fs, target, payload):
            if target.endswith("part-000001.parquet"):
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass
                else:
                    directory, name = target.rsplit("/", 1)
                    fs.pipe_file(f"{directory}/.{name}.dead.tmp", payload[: len(payload) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
            return put(fs, target, payload)

        on_worker._atomic_put = dying

    out = tmp_path / "out"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(die_writing_part_one)
        manifest = model.sample_to(out, N, shard_rows=SHARD, random_state=0, client=client)
    assert Path(marker).exists()  # a worker did die
    # Shard 1 took a second attempt; shards the dead worker held queued restart too.
    assert manifest["run"]["retried"]["1"] == 2
    assert _files(out) == _files(reference)  # no temporary file left, the same bytes


# --------------------------------------------------------------- sequence models
ENTITIES, SHARD_ENTITIES = 250, 100  # three parts: 100, 100, 50 entities


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_csv(DATA / "nafld1_sample.csv.gz")


@pytest.fixture(scope="module")
def sequence_model(patients):
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    small = {"epochs": 1, "batch_size": 32, "state_dim": 16, "hidden_dim": 16}
    return synthkit.SequenceSynthesizer(
        "ar", random_state=0, verbose=False, context_params={"epochs": 1, "hidden_dim": 16}, **small
    ).fit(synthkit.SequenceDataset(labs, sequence_key="id", sequence_index="days"), patients)


@pytest.fixture(scope="module")
def sequence_reference(sequence_model, one_worker, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sequences")
    sequence_model.sample_to(
        path, n_entities=ENTITIES, shard_entities=SHARD_ENTITIES, client=one_worker
    )
    return path


def _tree(path: Path) -> dict[str, bytes]:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)): p.read_bytes() for p in files}


def test_sequence_shards_are_whole_entities_with_keys_unique_across_shards(
    sequence_model, sequence_reference, patients, two_workers, tmp_path
) -> None:
    manifest = sequence_model.sample_to(
        tmp_path, n_entities=ENTITIES, shard_entities=SHARD_ENTITIES, client=two_workers
    )
    assert _tree(tmp_path) == _tree(sequence_reference)  # 1 and 2 workers: the same bytes
    assert sorted(_tree(tmp_path)) == [
        "_manifest.json",
        *[f"{table}/part-00000{i}.parquet" for table in ("context", "events") for i in range(3)],
    ]
    assert manifest["n_entities"] == ENTITIES and manifest["shard_entities"] == SHARD_ENTITIES
    contexts, events = [], []
    for part in manifest["parts"]:
        context = pd.read_parquet(tmp_path / part["context"]["file"])
        frame = pd.read_parquet(tmp_path / part["events"]["file"])
        assert len(context) == part["entities"] == part["context"]["rows"]
        assert len(frame) == part["events"]["rows"]
        # Whole entities: every event's entity is in the same part's context.
        assert frame["id"].isin(context["id"]).all()
        contexts.append(context)
        events.append(frame)
    assert [p["entities"] for p in manifest["parts"]] == [100, 100, 50]
    assert manifest["rows"]["events"] == sum(len(f) for f in events)
    keys = pd.concat(contexts)["id"]
    assert keys.is_unique and len(keys) == ENTITIES  # across shards
    assert not keys.isin(patients["id"]).any()  # never a real key
    assert keys.dtype == patients["id"].dtype
    assert list(pd.concat(events).columns) == ["id", "days", "test", "value"]


def test_a_sequence_run_resumes_only_the_missing_shard(
    sequence_model, sequence_reference, one_worker, tmp_path
) -> None:
    sequence_model.sample_to(
        tmp_path, n_entities=ENTITIES, shard_entities=SHARD_ENTITIES, client=one_worker
    )
    # A crash after shard 1 wrote its context but before its events, manifest unwritten.
    (tmp_path / "events" / "part-000001.parquet").unlink()
    (tmp_path / "_manifest.json").unlink()
    manifest = sequence_model.sample_to(
        tmp_path, n_entities=ENTITIES, shard_entities=SHARD_ENTITIES, client=one_worker
    )
    assert manifest["run"]["drawn"] == [1] and manifest["run"]["kept"] == 2
    assert _tree(tmp_path) == _tree(sequence_reference)
    with pytest.raises(ShardedOutputError, match=r"differs in \['n_entities'\]"):
        sequence_model.sample_to(tmp_path, n_entities=300, shard_entities=100, client=one_worker)
    with pytest.raises(synthkit.errors.ParameterError, match="shard_entities"):
        sequence_model.sample_to(tmp_path, n_entities=300, shard_rows=10)


def test_sequence_conditions_hold_in_every_part(sequence_model, one_worker, tmp_path) -> None:
    manifest = sequence_model.sample_to(
        tmp_path, n_entities=60, shard_entities=40, conditions={"male": 1}, client=one_worker
    )
    for part in manifest["parts"]:
        assert (pd.read_parquet(tmp_path / part["context"]["file"])["male"] == 1).all()


@pytest.mark.slow
def test_cli_samples_a_sequence_model_by_entity(
    sequence_model, sequence_reference, tmp_path
) -> None:
    from typer.testing import CliRunner

    from synthkit.cli import app

    path = sequence_model.save(tmp_path / "model.synthkit")
    out = tmp_path / "out"
    arguments = ["sample", str(path), "--output", str(out), "--entities", str(ENTITIES)]
    result = CliRunner().invoke(app, [*arguments, "--shard-entities", str(SHARD_ENTITIES)])
    assert result.exit_code == 0, result.output
    assert f"{ENTITIES} entities" in result.output
    assert _tree(out) == _tree(sequence_reference)


def test_own_cluster_workers_keep_glibc_adaptive_malloc_and_one_thread() -> None:
    # Dask's MALLOC_TRIM_THRESHOLD_ makes every sampled tensor fresh pages (page
    # faults tripled in a sampling worker); the thread limits must stay.
    import dask

    environ = {"MALLOC_TRIM_THRESHOLD_": 65536, "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        assert sharding._worker_environ() == {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1}


def test_own_cluster_workers_do_not_inherit_the_trim_threshold(monkeypatch) -> None:
    # A default Dask cluster started earlier leaves the variable in os.environ.
    import os

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with sharding.local_cluster(1) as cluster, distributed.Client(cluster) as client:
        seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert list(seen.values()) == [None]
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"
