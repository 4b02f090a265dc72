"""Weekly fraud-detector retraining, ending in a modelship promotion to staging.

The training tasks write one run folder to S3: the artifact, metadata.json (model, artifact sha256
and size, lineage: code commit, training-data snapshot, dbt manifest digest, hyperparameters, seed)
and validation-report.json (metrics overall and per slice, input and training histograms). The
last task hands that run to modelship (examples/airflow/modelship-handoff.sh, baked into the
worker image): `modelship register` uploads nothing twice (S3-to-S3 copy, sha256 verified) and
`modelship promote --open-pr` opens the staging pull request, which the checker gates and a human
merges. Airflow never deploys anything itself.
"""

from __future__ import annotations

import pendulum
from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator

RUNS = "s3://acme-training/fraud-detector/runs"


@dag(
    schedule="0 3 * * MON",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "modelship"],
)
def fraud_detector_training():
    @task
    def train(run_id: str | None = None) -> str:
        """Trains, evaluates and writes the run folder; returns its S3 prefix."""
        from acme_fraud.train import train_and_export  # the team's training code

        prefix = f"{RUNS}/{run_id}/"
        train_and_export(prefix)
        return prefix

    run_prefix = train(run_id="{{ run_id | replace(':', '-') }}")

    BashOperator(
        task_id="modelship_handoff",
        bash_command="modelship-handoff.sh {{ ti.xcom_pull(task_ids='train') }} staging 'weekly retrain {{ ds }}'",
        env={
            "RELEASE_REPO": "https://github.com/acmerisk/model-releases.git",
            # A GitHub App installation token with contents:write and pull-requests:write on the
            # release repository; the registry bucket comes from the worker's IAM role.
            "GITHUB_TOKEN": "{{ var.value.modelship_github_token }}",
        },
        append_env=True,
        retries=2,
    ).set_upstream(run_prefix)


fraud_detector_training()
