"""``ci.gitops.credentials``: what git may see of the job's environment."""

from ci.gitops.credentials import git_environment


def test_git_inherits_no_credential_meant_for_another_host():
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/ca.pem",
        "ARGOCD_AUTH_TOKEN": "argo",
        "REGISTRY_PASSWORD": "registry",
        "GITOPS_TOKEN": "gitlab",
        "GITLAB_OIDC_TOKEN": "oidc",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "CI_JOB_TOKEN": "job",
        "GIT_DIR": "/elsewhere",
        "GITOPS_GIT_PASSWORD": "stale",
    }
    assert git_environment(environ) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/ca.pem",
    }
