# train: one run (setting x method x hyperparameter point) on one GPU. FW, DMI and LIMIT + init take the CE
# checkpoint of the same setting as an input (spec.init_dir/model.pt), so they wait for it.
#
# The run's spec reaches the job as a param, never the params file as an input: Snakemake's params trigger
# retrains exactly the cells whose spec changed. `limitlab train` resumes from run_dir/state/ (not an output,
# so Snakemake never deletes it): a retried job continues from its last epoch; a state written for another
# spec (a changed value) is discarded by `limitlab train` itself.

rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RUN_DIR}/model.pt",
        history=f"{RUN_DIR}/history.csv",
        result=f"{RUN_DIR}/result.json",
    params:
        spec=spec_json,
        failed=f"{RUN_DIR}/{FAILED}",  # patterns, not functions: cheaper to plan
        interrupted=f"{RUN_DIR}/{INTERRUPTED}",
    log:
        f"{LOGS}/train/{{key}}.log",
    benchmark:
        f"{LOGS}/benchmarks/train/{{key}}.tsv"
    wildcard_constraints:
        key=".+",
    group:
        RUN_GROUP
    threads: RES.train.cpus
    resources:
        **stage_resources(RES.train),
    conda:
        "../envs/limitlab.yaml"
    shell:
        guarded('limitlab train --spec "$spec"')
