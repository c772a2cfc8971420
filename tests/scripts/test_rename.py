"""scripts/rename.py (`make rename`): validation and the rewrite, over texts."""

import pytest

from scripts import rename
from scripts.rename import Identity, RenameError
from tests.support.server import REPO_ROOT

OLD = rename.current_identity(
    (REPO_ROOT / rename.NAME_HOME).read_text(), (REPO_ROOT / rename.URL_HOME).read_text()
)
NEW = Identity("orders", "https://gitlab.acme.io/shop/orders")


@pytest.mark.parametrize(
    "name", ["orders", "a", "9lives", "team-orders-api", "x" * rename.MAX_NAME]
)
def test_dns_label_names_up_to_53_characters_are_accepted(name):
    assert rename.checked_name(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Orders", "not a DNS-1123 label"),
        ("-orders", "not a DNS-1123 label"),
        ("orders-", "not a DNS-1123 label"),
        ("or_ders", "not a DNS-1123 label"),
        ("orders.api", "not a DNS-1123 label"),
        ("", "not a DNS-1123 label"),
        ("x" * (rename.MAX_NAME + 1), "54 characters; at most 53"),
    ],
)
def test_other_names_are_refused_saying_why(name, says):
    with pytest.raises(RenameError, match=says) as error:
        rename.checked_name(name)
    assert error.value.exit_code == 2


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.acme.io/shop/orders",
        "https://gitlab.acme.io/shop/orders/",
        "https://gitlab.acme.io/shop/orders.git",
    ],
)
def test_a_project_url_loses_its_trailing_slash_and_git_suffix(url):
    assert rename.checked_url(url) == "https://gitlab.acme.io/shop/orders"


def test_a_subgroup_and_port_are_kept():
    url = "https://git.acme.io:8443/a/b/c.d_e"
    assert rename.checked_url(url) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://gitlab.acme.io/shop/orders", "https://"),
        ("gitlab.acme.io/shop/orders", "https://"),
        ("https://gitlab.acme.io/orders", "the project's path"),
        ("https://gitlab.acme.io", "the project's path"),
        ("https://user:token@gitlab.acme.io/shop/orders", "credentials"),
        ("https://gitlab.acme.io/shop/orders?x=1", "no query"),
        ("https://gitlab.acme.io/shop/or ders", "spaces"),
        ("https://gitlab.acme.io/shop//orders", "the project's path"),
    ],
)
def test_other_urls_are_refused_saying_why(url, says):
    with pytest.raises(RenameError, match=says):
        rename.checked_url(url)


def test_mentions_are_replaced_as_words_and_urls():
    old = Identity("svc", "https://gitlab.example.com/acme/svc")
    text = (
        "name: svc\r\n"  # CRLF kept
        "namespace: svc-dev  # and svc.dev.example.com, pod_svc-dev\r\n"
        "repoURL: https://gitlab.example.com/acme/svc.git\r\n"
        "link: https://gitlab.example.com/acme/svc/-/pipelines\r\n"
        "not: svcs, my-svc, helm.svc, https://gitlab.example.com/acme/svc-other\r\n"
    )
    assert rename.rewrite(text, old, NEW) == (
        "name: orders\r\n"
        "namespace: orders-dev  # and orders.dev.example.com, pod_orders-dev\r\n"
        "repoURL: https://gitlab.acme.io/shop/orders.git\r\n"
        "link: https://gitlab.acme.io/shop/orders/-/pipelines\r\n"
        "not: svcs, my-svc, helm.svc, https://gitlab.example.com/acme/orders-other\r\n",
        7,
    )


def test_python_changes_only_at_the_names_home():
    old = Identity("svc", "https://gitlab.example.com/acme/svc")
    files = {
        rename.NAME_HOME: '"""Doc."""\n\nSERVICE_NAME = "svc"\n',
        "ci/other.py": 'NAME = "svc"\n',
        "values.yaml": "image: registry/svc\n",
    }
    assert rename.plan(files, old, NEW) == {
        rename.NAME_HOME: ('"""Doc."""\n\nSERVICE_NAME = "orders"\n', 1),
        "values.yaml": ("image: registry/orders\n", 1),
    }


def test_renaming_to_the_current_identity_changes_nothing():
    files = {rename.NAME_HOME: f'SERVICE_NAME = "{OLD.name}"\n', "a.md": f"{OLD.url} {OLD.name}"}
    assert rename.plan(files, OLD, OLD) == {}
    assert rename.summary(OLD, OLD, {}) == [
        f"nothing to change: the service is {OLD.name} at {OLD.url}"
    ]


def test_without_a_url_the_current_one_takes_the_new_name():
    old = Identity("svc", "https://gitlab.example.com/acme/svc")
    new = rename.new_identity(old, "orders", None)
    assert new == Identity("orders", "https://gitlab.example.com/acme/orders")


def test_a_name_the_files_already_use_is_refused():
    files = {"a.md": "the echo endpoint", "b.md": f"{OLD.url}", "c.py": "echo"}
    assert rename.clashes(files, OLD, Identity("echo", NEW.url)) == ["a.md"]
    assert rename.clashes(files, OLD, Identity("acme", NEW.url)) == []  # only in the old URL
    assert rename.clashes(files, OLD, OLD) == []
