"""The CI workflow for the repository host (.github/workflows/ci.yml): valid against the
workflow schema (check-jsonschema's vendored copy, offline), and doing what it says: the
README's test command beside PostgreSQL, Redis and PgBouncer, the image built after hadolint."""

from __future__ import annotations

import yaml

from tests.deploy.support import ROOT, run, tool

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict:
    # YAML 1.1 reads the key "on" as True.
    return yaml.safe_load(WORKFLOW.read_text())


def commands(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_workflow_is_valid_against_the_github_workflow_schema():
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_job_without_runs_on(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text("name: ci\non: push\njobs:\n  test:\n    steps:\n      - run: echo\n")

    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)])

    assert result.returncode != 0


def test_the_test_job_runs_the_readmes_test_command_beside_postgres_redis_and_pgbouncer():
    job = workflow()["jobs"]["test"]
    readme = (ROOT / "README.md").read_text()

    assert {"postgres", "redis"} <= set(job["services"])
    assert "python3.11 run.py test" in readme
    assert "python3.11 run.py test -m deploy" in commands(job)
    assert 'python3.11 run.py test -m "not deploy"' in commands(job)
    assert "bash .ci/pgbouncer-start" in commands(job)
    assert job["env"]["DATABASE_URL"].startswith("postgres://postgres@postgres:5432/")
    assert job["env"]["REDIS_URL"].startswith("redis://redis:6379/")


def test_the_image_job_lints_the_dockerfile_before_building_it_and_checks_it_read_only():
    steps = workflow()["jobs"]["image"]["steps"]
    names = [step.get("name", step.get("uses", "")) for step in steps]
    hadolint = next(i for i, step in enumerate(steps) if "hadolint Dockerfile" in step.get("run", ""))
    build = next(
        i for i, step in enumerate(steps) if step.get("uses", "").startswith("docker/build-push-action")
    )
    check = next(i for i, step in enumerate(steps) if "check --deploy" in step.get("run", ""))

    assert hadolint < build < check, names
    assert "--read-only" in steps[check]["run"]
    assert "--user 10001:10001" in steps[check]["run"]
