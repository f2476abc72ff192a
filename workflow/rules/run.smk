# run: one job trains, evaluates and bootstraps RUNS_PER_JOB runs of the grid, one after another, on one GPU
# (`limitlab run`, src/limitlab/jobs/). Each run keeps its own folders (spec.run_dir, spec.eval_dir) and its
# own log (logs/<name>/runs/<key>.log); the job's output is a short summary, data/jobs/<name>/<id>.json.
#
# Why not one Snakemake job per run, or Snakemake's `group` directive: Snakemake spends about 2 ms planning each
# job, so the paper's MNIST grid (6,144 runs, 18,496 jobs) took 38-74 s to plan, and a cluster saw thousands of
# GPU jobs of a few minutes (docs/performance.md). With N runs per job the plan has ceil(runs / N) such jobs.
#
# What reruns: the job's params are the hash of its runs' specs, so a changed cell reruns its job, and inside the
# job `limitlab run` skips every run whose stages already finished for its spec (run_dir/done.json). A job that
# is killed and resubmitted (retries, or the next snakemake call) resumes: finished runs are skipped and the
# run in progress continues from its last completed epoch (run_dir/state/). The spec never travels on the
# command line: the job reads the params file and checks it against the hash it was planned with.

rule run:
    input:
        unpack(job_inputs),
    output:
        f"{JOBS}/{{shard}}.json",
    params:
        specs=job_hash,
        bootstrap=EXP.bootstrap.model_dump_json(),  # a change recomputes every run's bootstrap (not its training)
        params_file=PARAMS,
        logs=f"{LOGS}/runs",
        retry=job_retry,
    log:
        f"{LOGS}/run/{{shard}}.log",
    benchmark:
        f"{LOGS}/benchmarks/run/{{shard}}.tsv"
    wildcard_constraints:
        shard=r"n\d+-\d{5}",
    threads: PLAN.cpus
    resources:
        runtime=job_runtime,
        **PLAN.job_resources(),
    conda:
        "../envs/limitlab.yaml"
    shell:
        "limitlab run --params {params.params_file:q} --job {wildcards.shard} --expect {params.specs} "
        "--logs {params.logs:q} --out {output:q} {params.retry} > {log:q} 2>&1 && rc=0 || rc=$?; "
        "grep -h '^limitlab: ' {log:q} >&2 || true; exit $rc"
