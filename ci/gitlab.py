"""GitLab's predefined CI/CD variables, read in this one place."""

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class GitLabContext:
    """What the running pipeline tells about itself; empty strings outside GitLab."""

    project_name: str = ""
    project_url: str = ""
    commit_sha: str = ""
    commit_short_sha: str = ""
    commit_ref_name: str = ""
    default_branch: str = ""
    pipeline_url: str = ""
    job_url: str = ""
    job_name: str = ""
    user_login: str = ""
    user_email: str = ""
    server_host: str = ""
    server_url: str = ""
    project_path: str = ""
    job_token: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "GitLabContext":
        env = os.environ if environ is None else environ
        return cls(
            project_name=env.get("CI_PROJECT_NAME", ""),
            project_url=env.get("CI_PROJECT_URL", ""),
            commit_sha=env.get("CI_COMMIT_SHA", ""),
            commit_short_sha=env.get("CI_COMMIT_SHORT_SHA", ""),
            commit_ref_name=env.get("CI_COMMIT_REF_NAME", ""),
            default_branch=env.get("CI_DEFAULT_BRANCH", ""),
            pipeline_url=env.get("CI_PIPELINE_URL", ""),
            job_url=env.get("CI_JOB_URL", ""),
            job_name=env.get("CI_JOB_NAME", ""),
            user_login=env.get("GITLAB_USER_LOGIN", ""),
            user_email=env.get("GITLAB_USER_EMAIL", ""),
            server_host=env.get("CI_SERVER_HOST", ""),
            server_url=env.get("CI_SERVER_URL", ""),
            project_path=env.get("CI_PROJECT_PATH", ""),
            job_token=env.get("CI_JOB_TOKEN", ""),
        )
