# evaluate: clean-test predictions of the trained run (one GPU). Methods with a q-network also
# write per-example noisy-label scores (train_scores.npz, suspicious.csv), so they get their own rule; the key
# constraints (built from the grid in common.smk) send each run to exactly one of the two.

rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        predictions=f"{EVAL_DIR}/predictions.npz",
        summary=f"{EVAL_DIR}/eval.json",
    params:
        spec=spec_json,
        failed=f"{EVAL_DIR}/{FAILED}",  # patterns, not functions: cheaper to plan
        interrupted=f"{EVAL_DIR}/{INTERRUPTED}",
    log:
        f"{LOGS}/evaluate/{{key}}.log",
    benchmark:
        f"{LOGS}/benchmarks/evaluate/{{key}}.tsv"
    wildcard_constraints:
        key=KEYS_PLAIN,
    group:
        RUN_GROUP
    threads: RES.evaluate.cpus
    resources:
        **stage_resources(RES.evaluate),
    conda:
        "../envs/limitlab.yaml"
    shell:
        guarded('limitlab evaluate --spec "$spec"')


use rule evaluate as evaluate_q with:
    output:
        predictions=f"{EVAL_DIR}/predictions.npz",
        summary=f"{EVAL_DIR}/eval.json",
        scores=f"{EVAL_DIR}/train_scores.npz",
        suspicious=f"{EVAL_DIR}/suspicious.csv",
    log:
        f"{LOGS}/evaluate/{{key}}.log",
    wildcard_constraints:
        key=KEYS_Q,
