"""The container stack in docker/ stays consistent with the code it runs.

Static checks (no Docker daemon): compose services, commands, mounts, Prometheus targets, the
Grafana dashboard's metric names, the gunicorn hooks; plus `nginx -t` where nginx is installed.
"""

import importlib.util
import json
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
NGINX_CONF = DOCKER / "nginx" / "groupbuy.conf"
DASHBOARDS = DOCKER / "grafana" / "dashboards"

SERVICES = {
    "web",
    "worker",
    "beat",
    "consumer",
    "migrate",
    "mariadb",
    "mariadb-replica",
    "mysqld-exporter",
    "redis",
    "rabbitmq",
    "nginx",
    "prometheus",
    "grafana",
}
APP_SERVICES = {"web", "worker", "beat", "consumer", "migrate"}
METRIC_PREFIXES = ("django_", "gbm_", "process_", "python_", "mysql_")
# What prom/mysqld-exporter exports with the collectors compose enables (global status by default,
# perf_schema.eventsstatements by flag): the dashboard may query these.
MYSQLD_EXPORTER_METRICS = {
    "mysql_up",
    "mysql_global_status_commands_total",
    "mysql_global_status_queries",
    "mysql_global_status_slow_queries",
    "mysql_global_status_threads_connected",
    "mysql_global_status_innodb_row_lock_waits",
    "mysql_perf_schema_events_statements_total",
    "mysql_perf_schema_events_statements_seconds_total",
    "mysql_perf_schema_events_statements_rows_examined_total",
}


def service_missing(reason: str) -> None:
    if os.environ.get("GBM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required tool missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _command_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else shlex.join(str(part) for part in value)


def _dockerfile_cmd() -> str:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "docker/Dockerfile has no exec-form CMD"
    return shlex.join(json.loads(match.group(1)))


def _defines(module: str, name: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    source = Path(spec.origin).read_text()
    return re.search(rf"^(?:{name}\s*[:=]|class {name}\b|def {name}\b)", source, re.MULTILINE) is not None


def _check_command(where: str, command: str) -> list[str]:
    """Every module, object, file and manage.py command the command line names must exist."""
    from django.core.management import get_commands

    problems = []
    for module, name in re.findall(r"\b([A-Za-z_][\w.]*):([A-Za-z_]\w*)\b", command):
        if not _defines(module, name):
            problems.append(f"{where}: {module}:{name} not found")
    for module in re.findall(r"(?:-A|--app)[ =](\S+)", command):
        if importlib.util.find_spec(module) is None or not _defines(module, "app"):
            problems.append(f"{where}: celery app {module} not found")
    for path in re.findall(r"gunicorn\b.*?\s(?:-c|--config)[ =](\S+)", command):
        if not (ROOT / path).is_file():  # the image's WORKDIR is the repository root
            problems.append(f"{where}: config file {path} missing")
    for script in re.findall(r"python (\S+\.py)", command):
        if not (ROOT / script).is_file():
            problems.append(f"{where}: script {script} missing")
    for name in re.findall(r"manage\.py\s+(\w+)", command):
        if name not in get_commands():
            problems.append(f"{where}: manage.py {name} does not exist")
    return problems


def test_compose_has_every_service(compose):
    assert "version" not in compose, "the Compose spec has no version key"
    assert set(compose["services"]) >= SERVICES, SERVICES - set(compose["services"])


def test_built_services_use_the_repository_root_as_context(compose):
    builders = {name for name, service in compose["services"].items() if "build" in service}
    assert builders >= APP_SERVICES
    for name in builders:
        build = compose["services"][name]["build"]
        assert build == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert (DOCKER / build["context"]).resolve() == ROOT
        assert (DOCKER / build["context"] / build["dockerfile"]).is_file()


def test_app_commands_name_code_that_exists(compose):
    problems = _check_command("Dockerfile CMD", _dockerfile_cmd())
    for name in sorted(APP_SERVICES):
        service = compose["services"][name]
        command = _command_text(service.get("entrypoint")) + " " + _command_text(service.get("command"))
        assert command.strip(), f"{name} has no command"
        problems += _check_command(name, command)
        problems += _check_command(f"{name} healthcheck", _command_text(service.get("healthcheck", {}).get("test")))
    assert not problems, "\n".join(problems)
    web = _command_text(compose["services"]["web"]["command"])
    assert "config.wsgi:application" in web
    for name in ("worker", "beat"):
        assert "-A config.celery_app" in _command_text(compose["services"][name]["command"])


def test_start_order_and_healthchecks(compose):
    services = compose["services"]
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):  # short form: just started, no condition
            depends_on = {target: {} for target in depends_on}
        for target, rule in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            if rule.get("condition") == "service_healthy":
                check = services[target].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), f"{name} waits for {target}, which has none"


def _mounts(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                yield name, volume.get("type", "volume"), volume["source"], volume["target"]
            else:
                source, target = volume.split(":")[:2]
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
                yield name, kind, source, target


def test_mounted_host_paths_exist_and_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, kind, source, _target in _mounts(compose):
        if kind == "bind":
            path = (DOCKER / source).resolve()
            assert path.is_relative_to(ROOT), f"{name} mounts {source} from outside the repository"
            assert path.exists(), f"{name} mounts missing {source}"
        else:
            assert source in declared, f"{name} uses undeclared volume {source}"


def test_nginx_gets_its_config_and_proxies_to_web(compose):
    mounts = {target: source for name, _, source, target in _mounts(compose) if name == "nginx"}
    assert (DOCKER / mounts["/etc/nginx/conf.d/default.conf"]).resolve() == NGINX_CONF
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", NGINX_CONF.read_text(), re.MULTILINE)
    assert upstreams == [("web", "8000")]
    assert "0.0.0.0:8000" in (DOCKER / "gunicorn.conf.py").read_text()


def test_nginx_serves_uploaded_media_from_the_web_containers_volume(compose):
    """Production runs without DEBUG, so Django serves no /media/: nginx does, from the volume web writes to."""
    web = {target: source for name, _, source, target in _mounts(compose) if name == "web"}
    nginx = {target: source for name, _, source, target in _mounts(compose) if name == "nginx"}
    media_root = compose["x-app-env"]["MEDIA_ROOT"]
    alias = re.search(r"location /media/ \{\s*alias ([^;]+);", NGINX_CONF.read_text())
    assert alias, "nginx has no /media/ location"
    assert nginx[alias.group(1).rstrip("/")] == web[media_root]


def test_prometheus_scrapes_compose_services(compose):
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert {"web:8000", "rabbitmq:15692", "mysqld-exporter:9104"} <= targets
    for target in targets:
        assert target.split(":")[0] in set(compose["services"]) | {"localhost"}, target


def test_grafana_provisioning(compose):
    mounts = {
        target: (DOCKER / source).resolve() for name, kind, source, target in _mounts(compose) if name == "grafana"
    }
    provisioning = mounts["/etc/grafana/provisioning"]
    assert provisioning == DOCKER / "grafana" / "provisioning"

    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    prometheus = next(source for source in datasources if source["type"] == "prometheus")
    assert prometheus["url"].split("//")[1].split(":")[0] in compose["services"]

    providers = yaml.safe_load((provisioning / "dashboards" / "groupbuy.yml").read_text())["providers"]
    for provider in providers:
        host_dir = mounts[provider["options"]["path"]]
        assert host_dir == DASHBOARDS
        assert list(host_dir.glob("*.json")), f"no dashboard in {host_dir}"
    for dashboard in DASHBOARDS.glob("*.json"):
        for panel in _panels(json.loads(dashboard.read_text())):
            assert panel["datasource"]["uid"] == prometheus["uid"], panel["title"]


def _panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_PROMQL_WORDS |= {"and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, labels or keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)  # label matchers, ranges ($__rate_interval)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = re.findall(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", expr)
    return {name for name in names if name.lower() not in _PROMQL_WORDS}


def test_metric_name_extraction():
    expr = 'histogram_quantile(0.95, sum by (le, view) (rate(a_bucket{status=~"5.."}[$__rate_interval]))) / b'
    assert metric_names(expr) == {"a_bucket", "b"}


def _exported_metric_families() -> set[str]:
    from django_prometheus.middleware import Metrics
    from prometheus_client import REGISTRY

    Metrics.get_instance()  # the HTTP metrics register on first use
    return {family.name for family in REGISTRY.collect()}


def test_dashboard_queries_real_metrics():
    dashboards = list(DASHBOARDS.glob("*.json"))
    assert dashboards
    names = set()
    for dashboard in dashboards:
        for panel in _panels(json.loads(dashboard.read_text())):
            for target in panel.get("targets", []):
                names |= metric_names(target["expr"])
    assert names, "no metric names found in the dashboard queries"
    assert all(name.startswith(METRIC_PREFIXES) for name in names), sorted(names)

    # The app's database engine is Django's own (no django-prometheus cursor wrapper): no django_db_* metric exists;
    # the database panels read MariaDB's exporter.
    assert not [name for name in names if name.startswith("django_db_")], sorted(names)
    mysql = {name for name in names if name.startswith("mysql_")}
    assert mysql <= MYSQLD_EXPORTER_METRICS, sorted(mysql - MYSQLD_EXPORTER_METRICS)
    families = _exported_metric_families()
    for name in (name for name in names if name.startswith("django_")):
        family = re.sub(r"_(total|bucket|sum|count|created)$", "", name)
        assert family in families, f"{name} is not a django-prometheus metric"
    import apps.activities.trial
    import apps.channels.nonces
    import apps.common.cache
    import apps.common.lane
    import apps.dcc.ratelimit
    import apps.notifications.services
    import apps.trade.services
    import apps.trade.team_stock  # noqa: F401

    families = _exported_metric_families()
    for name in (name for name in names if name.startswith("gbm_")):
        family = re.sub(r"_(total|bucket|sum|count|created)$", "", name)
        assert family in families, f"{name} is not exported by the app"
    assert {"gbm_trials_total", "gbm_locks_total", "gbm_notify_oldest_pending_age_seconds"} <= names
    # The signed API is served by the lane, past django-prometheus: its traffic must still show.
    assert {"gbm_api_requests_total", "gbm_api_request_seconds_bucket"} <= names
    assert {
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_responses_total_by_status_total",
        "mysql_global_status_commands_total",
        "mysql_perf_schema_events_statements_seconds_total",
    } <= names


def test_mysqld_exporter_reads_statement_digests_with_a_least_privilege_account(compose):
    """The per-query database metrics: performance_schema on in MariaDB, the digest collector on in the exporter,
    and an account created on a fresh data directory that reads server status and performance_schema only."""
    services = compose["services"]
    assert "--performance-schema=ON" in services["mariadb"]["command"]
    exporter = services["mysqld-exporter"]
    assert {"--mysqld.address=mariadb:3306", "--mysqld.username=exporter",
            "--collect.perf_schema.eventsstatements"} <= set(exporter["command"])  # fmt: skip
    password = exporter["environment"]["MYSQLD_EXPORTER_PASSWORD"]
    assert password == services["mariadb"]["environment"]["MYSQLD_EXPORTER_PASSWORD"]
    assert exporter["depends_on"]["mariadb"] == {"condition": "service_healthy"}
    initdb = {target: source for name, _, source, target in _mounts(compose) if name == "mariadb"}
    script = (DOCKER / initdb["/docker-entrypoint-initdb.d"] / "10-exporter.sh").read_text()
    grants = re.findall(r"^GRANT (.+) TO 'exporter'@'%';$", script, re.MULTILINE)
    assert grants == ["PROCESS, REPLICATION CLIENT ON *.*", "SELECT ON performance_schema.*"]
    assert "MAX_USER_CONNECTIONS" in script


def test_mariadb_replica_follows_the_primary_by_gtid_and_the_app_reads_it_read_only(compose):
    """The scaled layout's replica (docs/decisions/017): the primary's binary log, a second server that follows it,
    and the app's DATABASE_REPLICA_URL on an account created on the replica that can only read."""
    services = compose["services"]
    primary, replica = services["mariadb"], services["mariadb-replica"]
    assert {"--server-id=1", "--log-bin", "--binlog-format=ROW"} <= set(primary["command"])
    assert {"--server-id=2", "--read-only=ON"} <= set(replica["command"])
    assert replica["image"] == primary["image"]
    assert replica["environment"]["MARIADB_MASTER_HOST"] == "mariadb"
    for key in ("MARIADB_REPLICATION_USER", "MARIADB_REPLICATION_PASSWORD", "MARIADB_DATABASE"):
        assert replica["environment"][key] == primary["environment"][key], key
    assert replica["depends_on"]["mariadb"] == {"condition": "service_healthy"}
    assert "--replication_sql" in replica["healthcheck"]["test"]
    # A replica outage must not stop the shop: no app service waits for it.
    assert all("mariadb-replica" not in services[name].get("depends_on", {}) for name in APP_SERVICES)
    url = compose["x-app-env"]["DATABASE_REPLICA_URL"]
    assert url.startswith("mysql://reader:") and "@mariadb-replica:3306/" in url
    initdb = {target: source for name, _, source, target in _mounts(compose) if name == "mariadb-replica"}
    script = (DOCKER / initdb["/docker-entrypoint-initdb.d"] / "10-reader.sh").read_text()
    grants = re.findall(r"^GRANT (.+) TO 'reader'@'%';$", script, re.MULTILINE)
    assert grants == ["SELECT ON \\`${database}\\`.*", "SLAVE MONITOR ON *.*"]


def _nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nginx_config_passes_nginx_t(tmp_path):
    nginx = _nginx()
    if nginx is None:
        service_missing("nginx is not installed (apt-get install nginx-light), so `nginx -t` cannot run")
    conf = NGINX_CONF.read_text()
    conf = conf.replace("web:8000", "127.0.0.1:8000")  # nginx -t resolves upstream host names
    conf = conf.replace("/var/log/nginx/", f"{tmp_path}/")
    # nginx -t binds the listen sockets: a free loopback port works unprivileged and beside a running nginx.
    conf, listens = re.subn(r"\blisten\s+80\b", f"listen 127.0.0.1:{_free_port()}", conf)
    assert listens == 1
    (tmp_path / "groupbuy.conf").write_text(conf)
    mime_types = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").is_file() else ""
    temp_paths = " ".join(
        f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n{mime_types}\n{temp_paths}\ninclude {tmp_path}/groupbuy.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_is_multi_stage_and_installs_production_requirements():
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM\s", text, re.MULTILINE)) >= 2
    assert re.search(r"^COPY\s+requirements/", text, re.MULTILINE)
    assert "-r requirements/production.txt" in text
    assert re.search(r"^USER\s+(?!root\b)\w+", text, re.MULTILINE), "the runtime must not run as root"
    assert re.search(r"^EXPOSE\s+8000\b", text, re.MULTILINE)
    assert "/healthz" in re.search(r"^HEALTHCHECK.*(?:\n\s+.*)*", text, re.MULTILINE).group(0)
    # The build context allowlist must name files that exist (a typo would silently drop them).
    for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines():
        if line.startswith("!"):
            assert (ROOT / line[1:].rstrip("/")).exists() or line[1:] == "locale/", line


def test_env_example_covers_required_settings():
    example = (DOCKER / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    for required in re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()):
        assert values.get(required), f"{required} is required by compose.yml but not in .env.example"
    secret = values["DJANGO_SECRET_KEY"]
    assert "CHANGE-ME" in secret and len(secret) >= 50


def _gunicorn_config(monkeypatch, **env: str) -> dict:
    for name in ("GUNICORN_WORKERS", "GUNICORN_MAX_WORKERS", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_ACCESS_LOG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DOCKER / "gunicorn.conf.py"))


def test_gunicorn_config(monkeypatch):
    config = _gunicorn_config(monkeypatch)
    assert config["bind"] == "0.0.0.0:8000"
    assert config["worker_class"] == "gthread"
    assert 1 <= config["workers"] <= 8
    assert config["default_workers"](cpus=64, cap=8) == 8
    assert config["default_workers"](cpus=1, cap=8) == 3
    assert config["timeout"] < 60, "must stay below nginx's proxy_read_timeout"
    assert config["accesslog"] is None, "nginx logs every request: gunicorn's access log is off by default"
    assert "x-request-id" in config["access_log_format"]
    assert _gunicorn_config(monkeypatch, GUNICORN_ACCESS_LOG="-")["accesslog"] == "-"
    assert _gunicorn_config(monkeypatch, GUNICORN_ACCESS_LOG="")["accesslog"] is None
    assert _gunicorn_config(monkeypatch, GUNICORN_WORKERS="5")["workers"] == 5
    assert _gunicorn_config(monkeypatch, GUNICORN_WORKERS="")["workers"] == config["workers"]


def test_gunicorn_prometheus_multiprocess_hooks(monkeypatch, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    config = _gunicorn_config(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    metrics_dir.mkdir()
    (metrics_dir / "counter_999.db").write_bytes(b"stale")
    config["on_starting"](None)
    assert metrics_dir.is_dir() and not list(metrics_dir.iterdir()), "stale files from a previous run survive"

    (metrics_dir / "gauge_livesum_4242.db").write_bytes(b"")
    (metrics_dir / "counter_4242.db").write_bytes(b"")
    config["child_exit"](None, SimpleNamespace(pid=4242))
    assert sorted(path.name for path in metrics_dir.iterdir()) == ["counter_4242.db"]  # counters outlive the worker

    config = _gunicorn_config(monkeypatch)  # without the variable the hooks do nothing
    config["on_starting"](None)
    config["child_exit"](None, SimpleNamespace(pid=1))


def _env_example() -> dict[str, str]:
    example = (DOCKER / ".env.example").read_text()
    return dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))


def _interpolate(value: str, values: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} against docker/.env values."""

    def substitute(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if values.get(name):
            return values[name]
        assert op != ":?", f"{name} is required by compose.yml"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", substitute, str(value)).replace("$$", "$")


def _app_environ(compose: dict, values: dict[str, str]) -> dict[str, str]:
    """The environment compose gives the app services, with docker/.env holding ``values``."""
    app_env = compose["services"]["web"]["environment"]
    keep = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return keep | {key: _interpolate(value, values) for key, value in app_env.items()}


def _import_production_settings(environ: dict[str, str]) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.SECRET_KEY and 'loaded')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_release_step_runs_the_deploy_checks_and_never_loads_demo_data(compose):
    migrate = compose["services"]["migrate"]
    script = _command_text(migrate["command"])
    assert script.index("manage.py migrate") < script.index("manage.py check --deploy --fail-level WARNING")
    assert "manage.py mq_declare" in script  # the bus's quorum queues exist before any publisher or consumer
    assert "set -e" in script
    assert "load_demo" not in COMPOSE.read_text() and "LOAD_DEMO" not in COMPOSE.read_text()
    assert "LOAD_DEMO" not in (DOCKER / ".env.example").read_text()
    assert "GBM_ALLOW_DEMO_DATA" not in COMPOSE.read_text() + (DOCKER / ".env.example").read_text()
    assert migrate["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_env_example_placeholders_are_refused_at_start(compose):
    """Copied as is, .env.example does not start: every CHANGE-ME the app reads is named in the refusal."""
    result = _import_production_settings(_app_environ(compose, _env_example()))
    assert result.returncode != 0
    assert "Production settings: refusing to start" in result.stderr, result.stderr
    for name in (
        "DJANGO_SECRET_KEY",
        "WEIXIN_TOKEN",
        "DATABASE_URL",
        "DATABASE_REPLICA_URL",
        "BROKER_URL",
        "PAYMENT_NOTIFY_BASE_URL",
    ):
        assert name in result.stderr, name
    for name in ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY"):
        assert f"{name} still holds a placeholder" in result.stderr, name


def test_env_example_with_every_placeholder_replaced_starts(compose):
    import secrets

    values = {
        key: (
            f"https://{secrets.token_hex(4)}.example.com"
            if key == "PAYMENT_NOTIFY_BASE_URL"
            else secrets.token_urlsafe(64)
        )
        if "CHANGE-ME" in value
        else value
        for key, value in _env_example().items()
    }
    result = _import_production_settings(_app_environ(compose, values))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"


def test_image_build_step_satisfies_production_settings():
    """collectstatic runs under production settings at build: its inline environment must pass the guards."""
    run = re.search(
        r"^RUN export DJANGO_SETTINGS_MODULE=.*?(?=\n\s+&& python manage\.py)", DOCKERFILE.read_text(), re.M | re.S
    )
    assert run, "docker/Dockerfile: the build step that exports the production settings changed shape"
    exports = run.group(0).removeprefix("RUN ").rstrip(" \\").replace("\\\n", " ")
    environ = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    environ["PATH"] = f"{Path(sys.executable).parent}:{environ.get('PATH', '')}"
    code = "from django.conf import settings; print(settings.SECRET_KEY and 'loaded')"
    result = subprocess.run(
        ["sh", "-c", f"{exports} && python -c \"{code}\""], cwd=ROOT, env=environ, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"


# --- the scaled layout: docker/compose.scaled.yml over compose.yml (web ×N, a Redis Cluster) -------------------

SCALED = DOCKER / "compose.scaled.yml"


def _compose_merge(base, override):
    """Compose's merge of an override file, for the keys these files use: mappings merge, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _compose_merge(base[key], value) if key in base else value
        return merged
    return override


@pytest.fixture(scope="module")
def scaled(compose) -> dict:
    override = yaml.safe_load(SCALED.read_text())
    assert "version" not in override
    assert set(override["services"]) - set(compose["services"]) >= {"redis-cluster-init"}
    return _compose_merge(compose, override)


def _default(value: str) -> str:
    """``${NAME:-default}`` → ``default``; a plain value stays as it is."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def test_scaled_layout_keeps_the_stack_consistent(scaled):
    test_compose_has_every_service(scaled)
    test_start_order_and_healthchecks(scaled)
    test_mounted_host_paths_exist_and_named_volumes_are_declared(scaled)
    test_app_commands_name_code_that_exists(scaled)


def test_scaled_layout_runs_several_web_containers_behind_nginx(scaled):
    web = scaled["services"]["web"]
    assert int(_default(web["deploy"]["replicas"])) >= 2
    assert "ports" not in web, "replicas cannot share a host port; nginx is the entry point"
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", NGINX_CONF.read_text(), re.MULTILINE)
    assert upstreams == [("web", "8000")]  # the service name resolves to every replica


def test_scaled_layout_points_every_app_service_at_a_redis_cluster(scaled):
    from apps.common.redis_cluster import cluster_startup_nodes

    services = scaled["services"]
    nodes_value = services["web"]["environment"]["REDIS_CLUSTER_NODES"]
    nodes = cluster_startup_nodes(nodes_value.split(","))
    assert len(nodes) >= 3
    for name in APP_SERVICES:
        service = services[name]
        assert service["environment"]["REDIS_CLUSTER_NODES"] == nodes_value, name
        assert service["depends_on"]["redis-cluster-init"] == {"condition": "service_completed_successfully"}, name
        assert "DJANGO_SECRET_KEY" in service["environment"], f"{name} lost compose.yml's environment"
    init = _command_text(services["redis-cluster-init"]["command"])
    assert "--cluster create" in init
    for node in nodes:
        service = services[node.host]
        assert "--cluster-enabled yes" in _command_text(service["command"]), node.host
        assert service["hostname"] == node.host  # it announces the name clients connect by
        assert node.port == 6379 and node.host in init
        assert services["redis-cluster-init"]["depends_on"][node.host] == {"condition": "service_healthy"}
