"""The scripted Files and Batches API, driven by the real `openai` client: what batch mode's
tests stand on must behave as the API it stands in for."""

import json
import time

import openai
import pytest

from evolviz.testing import FakeBatchServer, LineFaults
from evolviz.testing.batch_wire import parse_multipart
from evolviz.testing.evol_responder import EvolResponder


def lines(n, model="fake-model"):
    return b"".join(json.dumps({
        "custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"Say {i}."}]},
    }).encode() + b"\n" for i in range(n))


def wait(client, batch_id, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        b = client.batches.retrieve(batch_id)
        if b.status in ("completed", "failed", "expired", "cancelled"):
            return b
        assert time.monotonic() < deadline, b.status
        time.sleep(0.02)


def results(client, file_id):
    return {o["custom_id"]: o for o in map(json.loads,
                                            client.files.content(file_id).content.splitlines())}


def test_upload_create_poll_and_read_results_as_openai_does():
    with FakeBatchServer(EvolResponder(), batch_delay=0.2) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        f = client.files.create(file=("in.jsonl", lines(5), "application/jsonl"),
                                purpose="batch")
        assert f.bytes == len(lines(5)) and f.purpose == "batch"
        assert client.files.content(f.id).content == lines(5)
        b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"k": "v"})
        assert b.status == "validating" and b.request_counts.total == 5
        assert b.metadata == {"k": "v"}
        done = wait(client, b.id)
        assert done.status == "completed" and done.request_counts.completed == 5
        assert done.error_file_id is None and done.usage.output_tokens > 0
        out = results(client, done.output_file_id)
        assert set(out) == {f"req-{i}" for i in range(5)}
        reply = out["req-3"]["response"]
        assert reply["status_code"] == 200
        assert reply["body"]["choices"][0]["message"]["content"]
        # The same request answered live gets the same reply.
        live = client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Say 3."}])
        assert live.choices[0].message.content == reply["body"]["choices"][0]["message"][
            "content"]
        assert [x.id for x in client.batches.list()] == [b.id]
        assert server.submissions == {f"req-{i}": 1 for i in range(5)}


def test_failed_and_expired_lines_go_to_the_error_file():
    faults = LineFaults(fail_rate=0.5, kinds=("500",), expire_rate=0.3, seed=1)
    with FakeBatchServer(EvolResponder(), batch_delay=0.05, line_faults=faults) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        f = client.files.create(file=("in.jsonl", lines(20), "application/jsonl"),
                                purpose="batch")
        b = wait(client, client.batches.create(input_file_id=f.id, completion_window="24h",
                                               endpoint="/v1/chat/completions").id)
        assert b.status == "expired"
        errors = results(client, b.error_file_id)
        expired = [o for o in errors.values() if (o["error"] or {}).get("code") ==
                   "batch_expired"]
        failed = [o for o in errors.values() if o["response"]]
        assert expired and failed
        assert all(o["response"]["status_code"] == 500 for o in failed)
        assert len(results(client, b.output_file_id)) + len(errors) == 20


def test_cancel_keeps_what_was_reached_and_large_files_get_413():
    with FakeBatchServer(EvolResponder(), batch_delay=1.0, max_file_bytes=2000,
                         max_file_lines=4) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError) as e:
            client.files.create(file=("big.jsonl", lines(40), "application/jsonl"),
                                purpose="batch")
        assert e.value.status_code == 413 and "larger than this endpoint takes" in str(e.value)
        f = client.files.create(file=("in.jsonl", lines(4), "application/jsonl"),
                                purpose="batch")
        b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
        time.sleep(0.6)
        assert client.batches.cancel(b.id).status == "cancelling"
        done = wait(client, b.id)
        assert done.status == "cancelled" and 0 < done.request_counts.completed < 4
        f5 = client.files.create(file=("five.jsonl", lines(5), "application/jsonl"),
                                 purpose="batch")
        bad = wait(client, client.batches.create(input_file_id=f5.id, completion_window="24h",
                                                 endpoint="/v1/chat/completions").id)
        assert bad.status == "failed" and "at most 4" in bad.errors.data[0].message


def test_multipart_fields_are_read_whole():
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n"
            b"Content-Type: application/jsonl\r\n\r\n{\"x\": 1}\r\n\r\n--xyz--\r\n")
    assert parse_multipart(body) == {"purpose": (None, b"batch"),
                                     "file": ("a.jsonl", b"{\"x\": 1}\r\n")}
    with pytest.raises(ValueError):
        parse_multipart(b"not multipart")
