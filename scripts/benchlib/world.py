"""The benchmark's world: the stack's addresses, a private Kubernetes stand-in, the manifest drctl runs against,
the environment every contender gets, and the disaster (lose_everything) before each rebuild."""

import os
import shutil
import subprocess
import time
import urllib.request

from .common import ROOT, fail, log, run


class Stack:
    """The stack's addresses and the psql helpers (the password travels in PGPASSWORD, never in argv)."""

    def __init__(self):
        need = ["PGHOST", "PGPORT", "DRCTL_PG_USER", "DRCTL_PG_PASSWORD", "DRCTL_PG_SUPERUSER", "AWS_ENDPOINT_URL",
                "DRCTL_STACK_DIR"]
        missing = [name for name in need if not os.environ.get(name)]
        if missing:
            fail(f"missing {', '.join(missing)}: run scripts/bench (it loads scripts/stack env), not bench.py")
        self.host, self.port = os.environ["PGHOST"], os.environ["PGPORT"]
        self.user, self.password = os.environ["DRCTL_PG_USER"], os.environ["DRCTL_PG_PASSWORD"]
        self.superuser = os.environ["DRCTL_PG_SUPERUSER"]
        self.dir = os.environ["DRCTL_STACK_DIR"]

    def psql_argv(self, database, superuser=False):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", self.port,
                "-U", self.superuser if superuser else self.user, "-d", database]

    def env(self):
        env = dict(os.environ)
        env["PGPASSWORD"] = self.password
        return env

    def sql(self, database, statement, superuser=False):
        return run(self.psql_argv(database, superuser) + ["-At", "-c", statement], env=self.env(),
                   capture=True).stdout.strip()

    def drop_like(self, prefix):
        names = self.sql("postgres", f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'",
                         superuser=True)
        for name in filter(None, names.splitlines()):
            self.sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', superuser=True)


IMAGE_LAYOUT = os.path.join(ROOT, ".stack", "image", "oci")


class KubeStandIn:
    """A private Kubernetes API stand-in (scripts/fixtures/kube_standin.py, a test fixture) for the benchmark.
    With `kubelet`, the pods of Jobs from drctl's image run for real (runc, the image scripts/image builds) and
    the PostgreSQL release's pods forward to the stack's PostgreSQL, as `scripts/stack up` sets it up."""

    def __init__(self, folder, kubelet=False, pg_port=None):
        os.makedirs(folder, exist_ok=True)
        self.kubeconfig = os.path.join(folder, "kubeconfig")
        self.kubelet_dir = os.path.join(folder, "kubelet")
        port_file = os.path.join(folder, "port")
        if os.path.exists(port_file):
            os.remove(port_file)
        extra = []
        if kubelet:
            forwards = os.path.join(folder, "pod-forwards.json")
            with open(forwards, "w") as out:  # 5432, and the Service port the job manifest gives the release
                out.write(f'[{{"selector": "app.kubernetes.io/name=postgresql", "port": 5432, "to": "127.0.0.1:{pg_port}"}}, '
                          f'{{"selector": "app.kubernetes.io/name=postgresql", "port": {pg_port}, "to": "127.0.0.1:{pg_port}"}}]\n')
            extra = ["--kubelet-dir", self.kubelet_dir, "--image-layout", IMAGE_LAYOUT, "--pod-forwards", forwards]
        self.process = subprocess.Popen(
            [os.path.join(ROOT, ".tools/venv/bin/python"), os.path.join(ROOT, "scripts/fixtures/kube_standin.py"),
             "--port", "0", "--port-file", port_file, "--kubeconfig", self.kubeconfig] + extra,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(folder, "standin.log"), "w"))
        for _ in range(400):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        else:
            self.stop()
            fail("the private kube stand-in did not write its port file within 20 s")
        self.url = f"http://127.0.0.1:{open(port_file).read().strip()}"

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/_standin/reset", method="POST"), timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # its kubelet, if on, kills the containers it runs
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class World:
    """Names, folders and processes of one benchmark mode under .stack/bench/<mode>."""

    def __init__(self, mode, config):
        self.mode = mode
        self.config = config
        self.stack = Stack()
        self.dir = os.path.join(self.stack.dir, "bench", mode)
        os.makedirs(self.dir, exist_ok=True)
        self.database = f"bench_erp_{mode}"
        self.verify_database = f"bench_verify_{mode}"
        self.bucket = f"drctl-bench-{mode}"
        self.backup_name = f"{self.database}_backup_20261124_020000.sql.gz"
        self.data = os.path.join(self.dir, "data")
        self.backup = os.path.join(self.data, self.backup_name)
        self.archive_source = os.path.join(self.data, "archive-source")
        self.archive_destination = os.path.join(self.dir, "archive")
        self.download = os.path.join(self.dir, "tmp-download")
        self.kube = None
        self.drctl = None

    def build_drctl(self, build):
        log(f"building drctl ({build}): swift build -c {build} --product drctl")
        run(["swift", "build", "-c", build, "--product", "drctl"], cwd=ROOT)
        self.drctl = os.path.join(ROOT, ".build", build, "drctl")
        if not os.access(self.drctl, os.X_OK):
            fail(f"{self.drctl} was not built")

    def build_image(self, build):
        """drctl's image for the job-mode rebuild (P8): from the debug build (--dev, as scripts/test) or the release
        image scripts/image builds; cached by scripts/image. The kubelet needs root and runc."""
        if os.geteuid() != 0:
            fail("P8 runs the job-mode rebuild's pods with runc in the stand-in's kubelet, which needs root")
        if not shutil.which("runc"):
            fail("P8 needs runc for the stand-in's kubelet; run scripts/bootstrap")
        log(f"drctl's image for P8 (scripts/image build{' --dev' if build == 'debug' else ''})")
        run([os.path.join(ROOT, "scripts/image"), "build"] + (["--dev"] if build == "debug" else []), cwd=ROOT)

    @property
    def archive_claim_folder(self):
        """Where the job-mode rebuild's archive lands: the app's claim, a folder of the stand-in's kubelet."""
        return os.path.join(self.kube.kubelet_dir, "pvc", "sandbox", "valeo-erp-archive")

    def start(self, kubelet=False):
        self.kube = KubeStandIn(os.path.join(self.dir, "kube"), kubelet=kubelet, pg_port=self.stack.port)
        self.manifest = os.path.join(self.dir, "manifests", "bench.yaml")
        os.makedirs(os.path.dirname(self.manifest), exist_ok=True)
        with open(self.manifest, "w") as out:
            out.write(self.manifest_text())
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kube.kubeconfig
        env["HOME"] = os.path.join(self.dir, "home")
        env["DRCTL_HELM"] = os.path.join(ROOT, ".tools/bin/helm")
        for name in ("DB_HOST", "DB_PORT", "DB_USER", "DB_NAME", "DB_PASSWORD", "PGPASSWORD"):
            env.pop(name, None)
        os.makedirs(env["HOME"], exist_ok=True)
        self.env = env

    def manifest_text(self, database=None, local=None, extra_backups="", data_plane="local"):
        """The bench's manifest; another database or local folder for the worlds beside the main one. With
        data_plane "job" (P8), as manifests/sandbox-job.yaml: the database by its in-cluster name, the backup
        loaded in a Job from drctl's image, the archive synced by an Indexed Job into the app's claim."""
        helm_values = os.path.join(ROOT, "values/sandbox")
        postgresql_values, app_values = f"{helm_values}/postgresql.yaml", f"{helm_values}/valeo-erp.yaml"
        host, archive = self.stack.host, f'destination: "{self.archive_destination}/"'
        if data_plane == "job":
            service_values = os.path.join(self.dir, "manifests", "postgresql-job-values.yaml")
            with open(service_values, "w") as out:  # the Service listens on the stack's port (the pods' host network)
                out.write(f"service: {{ port: {self.stack.port} }}\n")
            postgresql_values = f"[{postgresql_values}, {service_values}]"
            app_values = f"[{app_values}, {helm_values}/valeo-erp-archive.yaml]"
            host = "postgresql.sandbox.svc.cluster.local\n  dataPlane: job"
            archive = (f"destination: /app/data/archive/, volumeClaim: valeo-erp-archive, "
                       f"shards: {self.config['job_shards']}, parallelism: 2")
        return f"""# Written by scripts/bench for its own world; not a user manifest.
environment: bench-{self.mode}
kube: {{ context: drctl-sandbox, namespace: sandbox, kubeconfig: {self.kube.kubeconfig} }}
database:
  host: {host}
  port: {self.stack.port}
  user: {self.stack.user}
  name: {database or self.database}
  password: {{ env: DRCTL_PG_PASSWORD }}
  smokeQuery: SELECT COUNT(*) FROM documents_header
backups:
  local: {local or self.dir + '/backups'}
  sizeFloor: 1KiB
  retention: {{ daily: 60, monthly: 12 }}
  s3: {{ bucket: {self.bucket}, prefix: postgresql/ }}
{extra_backups}releases:
  postgresql: {{ name: postgresql, chart: {ROOT}/charts/sandbox-postgresql, values: {postgresql_values} }}
  app:
    name: valeo-erp
    chart: {ROOT}/charts/sample-app
    values: {app_values}
    deployment: valeo-erp
    replicas: 2
readiness: {{ url: "{self.readyz}", timeout: 2m }}
archive: {{ source: "s3://{self.bucket}/archives/", {archive} }}
provision:
  - name: create-namespace
    command: [kubectl, create, namespace, sandbox]
    check: [kubectl, get, namespace, sandbox]
    timeout: 1m
objectives: {{ rpo: 1000d, rto: 4h }}
"""

    def write_manifest(self, name, **kwargs):
        path = os.path.join(self.dir, "manifests", name)
        with open(path, "w") as out:
            out.write(self.manifest_text(**kwargs))
        return path

    @property
    def readyz(self):
        return f"{self.kube.url}/_standin/apps/sandbox/valeo-erp/readyz"

    def aws(self, *args, check=True, capture=False):
        return run(["aws", *args], env=self.env, check=check, capture=capture)

    def lose_everything(self):
        """The disaster before every rebuild: an empty cluster, no database, no archive folder, no scratch."""
        self.kube.reset()
        self.stack.drop_like(self.database)
        for folder in (self.archive_destination, self.archive_claim_folder, self.download,
                       os.path.join(self.dir, "state")):
            shutil.rmtree(folder, ignore_errors=True)

    def state_env(self, label):
        env = dict(self.env)
        env["DRCTL_STATE_DIR"] = os.path.join(self.dir, "state", label)
        return env

    def check_rows(self, database=None):
        count = int(self.stack.sql(database or self.database, "SELECT count(*) FROM documents_header"))
        if count != self.config["rows"]:
            fail(f"{database or self.database} holds {count} documents after the run, expected {self.config['rows']}")

    def check_restored(self, archive=None):
        self.check_rows()
        archive = archive or self.archive_destination
        files = sum(len(f) for _, _, f in os.walk(archive))
        if files != self.config["archive_files"]:
            fail(f"{archive} holds {files} files after the run, expected {self.config['archive_files']}")

    def stop(self):
        if self.kube:
            self.kube.stop()
        self.stack.drop_like(self.database)
        self.stack.drop_like(self.verify_database)
