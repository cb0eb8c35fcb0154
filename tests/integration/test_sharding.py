"""`--quantbench-shard K/N`: whole files per shard, every case in exactly one shard, the same split everywhere."""

from __future__ import annotations


def test_two_shards_partition_the_run(suite_file, run) -> None:
    for name in ("one", "two", "three"):
        suite_file(
            f"{name}.suite.yaml",
            f"""
            name: {name}
            task: text-classification
            model_name_or_path: builtin:tiny-bert-sentiment
            dataset: {{path: "builtin:synthetic-sentiment"}}
            benchmarked: {{per_channel: [false, true]}}
            """,
        )
    ids = []
    for shard in ("1/2", "2/2"):
        result = run("--co", "-q", f"--quantbench-shard={shard}")
        ids.append({line for line in result.stdout.lines if "::" in line})
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert len(ids[0] | ids[1]) == 3 * (2 + 1 + 2)
    for shard_ids in ids:
        files = {i.split("::")[0] for i in shard_ids}
        assert all(sum(i.startswith(f + "::") for i in shard_ids) == 5 for f in files)
    run("--co", "--quantbench-shard=3/2").stderr.fnmatch_lines(["*--quantbench-shard expects K/N*"])
