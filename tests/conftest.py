"""Shared fixtures: a small corpus written by the tests, and a helper to run the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUBJECTS = ["my order", "the parcel", "my refund", "the invoice", "my account", "the password", "the courier"]
VERBS = ["arrived late", "was charged twice", "is missing", "needs a new address", "cannot be found", "was returned"]
ANSWERS = [
    "We are sorry about that. Please open the orders page, choose the item and press help.",
    "Thank you for waiting. We have sent you an email with the next steps.",
    "Please check the tracking page first; if nothing changes in two days, write to us again.",
]
CHINESE = ["我的订单还没有到。", "请帮我退款。", "我不能登录我的账号，我该怎么办？", "快递员把包裹送错了地址。"]


def make_documents(count: int, seed: int = 0) -> list[str]:
    """Short customer-service documents, varied enough for a tokenizer and a loss that falls."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        sentences = [
            f"Customer: {rng.choice(SUBJECTS)} {rng.choice(VERBS)}. Agent: {rng.choice(ANSWERS)}"
            for _ in range(rng.randint(2, 5))
        ]
        sentences.append(rng.choice(CHINESE))
        documents.append(" ".join(sentences))
    return documents


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in make_documents(300)))
    return path


# Small enough to train in seconds on two CPU cores.
TINY_ARGS = [
    "--model.vocab-size", "512", "--max-length", "32", "--batch-size", "8", "--micro-batch-size", "4",
    "--optim.warmup-steps", "2", "--run.progress", "false", "--run.plots", "false",
]  # fmt: skip


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """`python -m alignkit ARGS` in a subprocess, as a user would run it."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "alignkit", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def build_tiny_model(path: Path, max_length: int = 256, seed: int = 0) -> Path:
    """A random tiny Llama with a tokenizer trained on `make_documents` (ChatML template), saved to `path`."""
    import torch

    from alignkit.models import load
    from alignkit.models.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(make_documents(200), 512)
    torch.manual_seed(seed)
    model = load.build_causal_lm("tiny", tokenizer, max_length=max_length)
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


# -- PostgreSQL: a throwaway server from Debian's packages, one fresh database per test -------------------------------


def _postgresql_bin() -> Path:
    """The newest /usr/lib/postgresql/*/bin that has initdb and pg_ctl; a clear failure when none does."""

    def major(path: Path) -> tuple:
        name = path.parent.name
        return (0, int(name)) if name.isdigit() else (-1, 0)

    for bin_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True):
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return bin_dir
    pytest.fail(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (initdb, pg_ctl): "
        "install Debian's `postgresql` package (`apt-get install postgresql`; `make test` does) to run the "
        "feedback store's PostgreSQL tests",
        pytrace=False,
    )


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A running throwaway cluster: trust auth for `postgres`, on 127.0.0.1:port and a socket in its temp dir."""

    def __init__(self, bin_dir: Path, root: Path, port: int, as_user: list[str]):
        self.bin_dir, self.root, self.port, self.as_user = bin_dir, root, port, as_user
        self.data, self.log = root / "data", root / "server.log"
        self._count = 0

    def run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            cwd=self.root,  # the postgres user may not be able to enter the tests' working directory
            timeout=timeout,
        )

    def admin_connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self) -> str:
        """A new empty database; returns its URL (postgresql://postgres@127.0.0.1:PORT/NAME)."""
        self._count += 1
        name = f"alignkit_test_{os.getpid()}_{self._count}"
        with self.admin_connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin_connect() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgresql_server():
    """initdb + pg_ctl start in a temp dir (as the `postgres` user when the tests run as root, since initdb
    refuses root); stopped with `pg_ctl stop -m immediate` and removed at session end, or on any failure."""
    import shutil
    import tempfile

    bin_dir = _postgresql_bin()
    root = Path(tempfile.mkdtemp(prefix="alignkit-pg-"))  # not under pytest's basetemp: that is 0700 root's
    server: PostgresServer | None = None
    started = False
    try:
        as_user: list[str] = []
        owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, and there is no `postgres` system user to run initdb as", pytrace=False)
            runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
            if runuser is None:
                pytest.fail("running as root, and `runuser` (util-linux) is missing: cannot run initdb", pytrace=False)
            owner = (user.pw_uid, user.pw_gid)
            os.chown(root, *owner)
            as_user = [runuser, "-u", "postgres", "--"]
        server = PostgresServer(bin_dir, root, _free_port(), as_user)
        init = server.run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                          "--no-locale", "--no-sync")  # fmt: skip
        if init.returncode != 0:
            pytest.fail(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}", pytrace=False)
        sockets = root / "sock"
        sockets.mkdir()
        if owner is not None:
            os.chown(sockets, *owner)
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        started = True  # from here on a stop is due, even when the start fails halfway
        start = server.run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-o", options, "-w", "-t", "60",
                           "start", timeout=90)  # fmt: skip
        if start.returncode != 0:
            log = server.log.read_text(errors="replace") if server.log.exists() else ""
            pytest.fail(
                f"pg_ctl start failed ({start.returncode}):\n{start.stdout}\n{start.stderr}\n{log}", pytrace=False
            )
        yield server
    finally:
        if server is not None and started:
            server.run("pg_ctl", "-D", str(server.data), "stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgresql_url(postgresql_server):
    """A fresh, empty database on the session's server, dropped after the test."""
    url = postgresql_server.create_database()
    yield url
    postgresql_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """The feedback store's `--db`: a new SQLite file, or a fresh PostgreSQL database (server started on first use)."""
    if request.param == "sqlite":
        return str(tmp_path / "feedback.db")
    return request.getfixturevalue("postgresql_url")


# -- RL stages (PPO, GRPO): a tiny policy whose answers have many lengths, a tiny reward model ------------

END_OF_TURN = "<|im_end|>"
# Prompts of very different lengths, so that left padding is real in every batch.
QUESTIONS = [
    "hi",
    "Where is my parcel?",
    "My order arrived late and the box was broken; what should I do now, and who pays the return?",
    "Refund?",
    "我的订单还没有到。",
    "The courier left the parcel at the wrong address, can you send it again to my new address please?",
    "Password reset",
    "Was I charged twice for the invoice of last month?",
]


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread, as run_cli's subprocesses have (OMP_NUM_THREADS=1): these models are too
    small to gain from two, and on cores shared with other jobs a second thread's waits cost 10x."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def policy_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny random model with <|im_end|> made likely enough (a logit of about 4.5 where the body's
    hidden states point on average, against about 0 for the rest of the 512 tokens) that some
    sampled answers end within a dozen tokens and others do not. Greedy answers end at once."""
    import torch

    from alignkit import rollout
    from alignkit.models import load

    tokenizer = load.load_tokenizer(tiny_model_dir)
    model = load.load_causal_lm(tiny_model_dir)
    load.fit_embeddings(model, tokenizer)
    texts = rollout.prompt_texts(tokenizer, QUESTIONS, chat=True)
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        hidden = model.model(**encoded).last_hidden_state[encoded["attention_mask"].bool()]
        direction = hidden.mean(0)
        end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        model.get_input_embeddings().weight[end] = 4.5 * direction / direction.norm() ** 2  # tied: lm_head too
    path = tmp_path_factory.mktemp("ppo") / "policy"
    load.save_pretrained(model, tokenizer, path, "sdpa")
    return path


@pytest.fixture(scope="session")
def reward_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """An untrained decoder reward model on the tiny body: the policy's vocabulary, so the critic
    starts from it (ppo.critic auto)."""
    import torch

    from alignkit.models import load
    from alignkit.stages import reward

    tokenizer = load.load_tokenizer(tiny_model_dir)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model, _ = reward.build_reward_model(tiny_model_dir, tokenizer, "sdpa", "auto", "none")
    path = tmp_path_factory.mktemp("ppo") / "rm"
    load.save_pretrained(model, tokenizer, path, "sdpa")
    return path
