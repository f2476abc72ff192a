# cleanlab beside LIMIT (noisy-label detection, src/limitlab/label_issues.py), for studies with a `cleanlab:`
# block: split the setting's noisy training split into K stratified folds, train the study's cleanlab.source
# method (CE) on each fold's complement with `limitlab train` (the one training loop), then `limitlab cleanlab
# detect` turns the out-of-sample probabilities into cleanlab's label issues, scores and noise matrix.

from limitlab.grid import cleanlab_specs

CLEANLAB = {s.key: s for s in cleanlab_specs(EXP)}
CV_RUNS = {f.key: f for s in CLEANLAB.values() for f in s.fold_specs}
CV_DIR = f"{DATA}/cv/{{key}}"  # one fold run; its key (CV_RUNS) is <cleanlab key>/fold<i>
CLEANLAB_FILES = [str(Path(s.out_dir) / "cleanlab.json") for s in CLEANLAB.values()]  # inputs of aggregate


rule cv_split:
    input:
        labels=lambda wildcards: str(CLEANLAB[wildcards.cv].labels_path),
    output:
        f"{DATA}/cv/{{cv}}/fold{{fold}}/labels.npz",
    params:
        folds=lambda wildcards: CLEANLAB[wildcards.cv].folds,
        seed=lambda wildcards: CLEANLAB[wildcards.cv].seed,
    log:
        f"{LOGS}/cv_split/{{cv}}/fold{{fold}}.log",
    wildcard_constraints:
        cv="|".join(map(re.escape, CLEANLAB)) or "(?!)",
        fold=r"\d+",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    shell:
        "limitlab cleanlab split --labels {input.labels:q} --folds {params.folds} --fold {wildcards.fold} "
        "--seed {params.seed} --out {output:q} > {log:q} 2>&1"


rule cv_train:
    input:
        data=lambda wildcards: str(CV_RUNS[wildcards.key].data_path),
        labels=f"{CV_DIR}/labels.npz",
    output:
        model=f"{CV_DIR}/model.pt",
        history=f"{CV_DIR}/history.csv",
        result=f"{CV_DIR}/result.json",
    params:
        spec=lambda wildcards: CV_RUNS[wildcards.key].model_dump_json(),
        failed=lambda wildcards: f"{CV_RUNS[wildcards.key].run_dir}/{FAILED}",
        interrupted=lambda wildcards: f"{CV_RUNS[wildcards.key].run_dir}/{INTERRUPTED}",
    log:
        f"{LOGS}/cv_train/{{key}}.log",
    benchmark:
        f"{LOGS}/benchmarks/cv_train/{{key}}.tsv"
    wildcard_constraints:
        key="|".join(map(re.escape, CV_RUNS)) or "(?!)",
    threads: RES.train.cpus
    resources:
        **stage_resources(RES.train),
    conda:
        "../envs/limitlab.yaml"
    shell:
        guarded('limitlab train --spec "$spec"')


rule cleanlab:
    input:
        models=lambda wildcards: [f"{f.run_dir}/model.pt" for f in CLEANLAB[wildcards.cv].fold_specs],
        folds=lambda wildcards: [str(f.labels_path) for f in CLEANLAB[wildcards.cv].fold_specs],
        labels=lambda wildcards: str(CLEANLAB[wildcards.cv].labels_path),
    output:
        summary=f"{DATA}/cv/{{cv}}/cleanlab/cleanlab.json",
        probs=f"{DATA}/cv/{{cv}}/cleanlab/pred_probs.npz",
        issues=f"{DATA}/cv/{{cv}}/cleanlab/label_issues.csv",
    params:
        spec=lambda wildcards: CLEANLAB[wildcards.cv].model_dump_json(),
    log:
        f"{LOGS}/cleanlab/{{cv}}.log",
    benchmark:
        f"{LOGS}/benchmarks/cleanlab/{{cv}}.tsv"
    wildcard_constraints:
        cv="|".join(map(re.escape, CLEANLAB)) or "(?!)",
    threads: RES.evaluate.cpus
    resources:
        **stage_resources(RES.evaluate),
    conda:
        "../envs/limitlab.yaml"
    shell:
        "limitlab cleanlab detect --spec {params.spec:q} > {log:q} 2>&1"


localrules:
    cv_split,
