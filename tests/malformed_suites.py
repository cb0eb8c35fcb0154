"""Malformed suite files, each with the field its one-line error must name: shared by the config tests and
the reliability script (tests/reliability.py)."""

BASE = """
name: demo
task: text-classification
model_name_or_path: some/model
dataset: {path: glue, name: sst2, eval_split: validation, data_keys: {primary: sentence}, ref_keys: [label]}
"""

MALFORMED = [
    ("task: text-classification\nmodel_name_or_path: [", "", "invalid YAML"),
    ("", "", "the file is empty"),
    ("- a\n- b\n", "", "expected a mapping"),
    (BASE + "modle: x\n", "modle", "did you mean 'model_name_or_path'"),
    (BASE.replace("text-classification", "summarization"), "task", "unknown value 'summarization'"),
    ("task: text-classification\ndataset: {path: x}\n", "model_name_or_path", "is required"),
    (BASE + "benchmarked: {per_channel: []}\n", "benchmarked.per_channel", "empty grid"),
    (BASE + "benchmarked: {per_channel: true}\n", "benchmarked.per_channel", "expected a list"),
    (BASE + "benchmarked: {per_channel: [yes please]}\n", "benchmarked.per_channel[0]", "expected true or false"),
    (
        BASE + "benchmarked: {operators_to_quantize: [[Add, MatMull]]}\n",
        "benchmarked.operators_to_quantize[0][1]",
        "did you mean 'MatMul'",
    ),
    (BASE + "fixed: {node_exclusion: [layernorm, gelus]}\n", "fixed.node_exclusion[1]", "did you mean 'gelu'"),
    (
        BASE + "fixed: {per_channel: false}\nbenchmarked: {per_channel: [true]}\n",
        "benchmarked.per_channel",
        "also in 'fixed'",
    ),
    (BASE + "fixed: {framework_args: {opset: 3}}\n", "fixed.framework_args.opset", "out of range"),
    (
        BASE + "fixed: {framework_args: {intra_op_num_threads: 1000000}}\n",
        "fixed.framework_args.intra_op_num_threads",
        "out of range",
    ),
    (BASE + "fixed: {calibration: {method: kl}}\n", "fixed.calibration.method", "unknown value 'kl'"),
    (BASE + "time: {batch_sizes: []}\n", "time.batch_sizes", "non-empty list"),
    (BASE + "time: {batch_sizes: [0]}\n", "time.batch_sizes[0]", "out of range"),
    (BASE + "time: {input_lengths: [1e12]}\n", "time.input_lengths[0]", "expected an integer"),
    (BASE + "metrics: [bleu]\n", "metrics[0]", "unknown value 'bleu'"),
    (
        BASE.replace("text-classification", "token-classification") + "metrics: [matthews_correlation]\n",
        "metrics[0]",
        "unknown value 'matthews_correlation'",
    ),
    (BASE + "thresholds: {f1: {max_drop: 0.1}}\n", "thresholds.f1", "unknown field"),
    (BASE + "thresholds: {accuracy: {max_drop: -1}}\n", "thresholds.accuracy.max_drop", "out of range"),
    (BASE + "thresholds: {accuracy: {}}\n", "thresholds.accuracy", "is empty"),
    (
        BASE + "benchmarked: {per_channel: [true]}\noverrides: [{when: {per_channel: false}, expect: collapse}]\n",
        "overrides[0].when",
        "matches no config",
    ),
    (
        BASE + "benchmarked: {per_channel: [true]}\noverrides: [{when: {per_channel: true}, expect: crash}]\n",
        "overrides[0].expect",
        "unknown value 'crash'",
    ),
    (BASE + "markers: [not valid]\n", "markers[0]", "not a valid marker name"),
    (BASE.replace("ref_keys: [label]", "ref_keys: [a, b]"), "dataset.ref_keys", "exactly one"),
    (
        BASE.replace("data_keys: {primary: sentence}", "data_keys: {primry: sentence}"),
        "dataset.data_keys.primry",
        "did you mean 'primary'",
    ),
    (BASE + "dataset_path: x\n", "dataset_path", "unknown field"),
    (
        BASE.replace("model_name_or_path: some/model", "model_name_or_path: ./models/missing"),
        "model_name_or_path",
        "no such file or directory: ./models/missing",
    ),
    (
        BASE.replace("path: glue, name: sst2", "path: csv, data_files: {validation: missing.csv}"),
        "dataset.data_files.validation",
        "no such file or directory: missing.csv",
    ),
    (
        BASE.replace("ref_keys: [label]", "ref_keys: [label], num_eval_samples: 0"),
        "dataset.num_eval_samples",
        "out of range",
    ),
    (
        BASE.replace("ref_keys: [label]", "ref_keys: [label], max_length: 99999999"),
        "dataset.max_length",
        "out of range",
    ),
    (BASE + "time: {rounds: 1000000000}\n", "time.rounds", "out of range"),
    (
        BASE + "fixed: {calibration: {num_calibration_samples: -5}}\n",
        "fixed.calibration.num_calibration_samples",
        "out of range",
    ),
    (
        BASE + "fixed: {framework_args: {optimization_level: 7}}\n",
        "fixed.framework_args.optimization_level",
        "unknown value",
    ),
    (
        BASE + "benchmarked: {per_channel: [" + ", ".join(["true", "false"] * 3000) + "]}\n",
        "benchmarked",
        "more than 4096",
    ),
    (
        BASE.replace("name: demo", "name: " + "x" * 100_000) + "fixed: {quantization_approach: dynamc}\n",
        "fixed.quantization_approach",
        "did you mean 'dynamic'",
    ),
    (
        BASE + "benchmarked: {per_channel: [true, false]}\noverrides: [{when: {reduce_range: true}}]\n",
        "overrides[0].when.reduce_range",
        "unknown field (known: per_channel)",
    ),
    (
        BASE.replace("path: glue, name: sst2", "path: csv, data_files: 3"),
        "dataset.data_files",
        "expected a path, a list or a split mapping, got int",
    ),
    # the reader: duplicate keys, unsafe tags, and documents far beyond a suite file's size
    (BASE + "task: token-classification\n", "task", "duplicate key (lines 3 and 6)"),
    (
        BASE + "fixed:\n  per_channel: true\n  per_channel: false\n",
        "fixed.per_channel",
        "duplicate key (lines 7 and 8)",
    ),
    (BASE + "fixed: !!python/object/apply:os.system [echo]\n", "", "could not determine a constructor"),
    (
        BASE
        + "x0: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        + "".join(f"x{i}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n" for i in range(1, 6)),
        "",
        "expands to more than 100000 values through its aliases",
    ),
    (BASE + "x: " + "[" * 100 + "]" * 100 + "\n", "", "nested deeper than 32 levels (line 6)"),
    (BASE + "x: [" + ", ".join(["*a"] * 101) + "]\nx0: &a 1\n", "", "invalid YAML"),
    (BASE + "x0: &a 1\nx: [" + ", ".join(["*a"] * 101) + "]\n", "", "more than 100 aliases (line 7)"),
    (BASE + "# padding\n" * 100_000, "", "the file is larger than 1 MB"),
    (BASE + "thresholds: {speedup: {max_drop: 0.1}}\n", "thresholds.speedup.max_drop", "does not apply to speedup"),
    (BASE + "thresholds: {accuracy: {confidence: 0.95}}\n", "thresholds.accuracy", "gives no bound"),
    (
        BASE + "thresholds: {accuracy: {min: 0.5, confidence: 0.95}}\n",
        "thresholds.accuracy.confidence",
        "needs max_drop",
    ),
    (
        BASE + "thresholds: {accuracy: {max_drop: 0.1, on_inconclusive: maybe}}\n",
        "thresholds.accuracy.on_inconclusive",
        "maybe",
    ),
    (BASE + "thresholds: {agreemnt: {min: 0.9}}\n", "thresholds.agreemnt", "did you mean 'agreement'"),
    (BASE.replace("ref_keys: [label]", "ref_keys: []") + "metrics: [accuracy]\n", "metrics", "need references"),
]
