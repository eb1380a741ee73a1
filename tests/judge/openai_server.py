"""A local OpenAI-compatible chat-completions server for rltf's judge tests (127.0.0.1 only).

It speaks the real protocol (POST /v1/chat/completions, JSON body, choices[0].message.content,
optional logprobs.content[0].top_logprobs) and injects faults chosen by the request's model name:

  text          the answer as a word ("Yes." / "No.")
  json          the answer as {"answer": "yes"} inside a sentence
  logprobs      content "Yes" always, the real answer only in top_logprobs (tests that logprobs win)
  slow:S        replies after S seconds
  flaky500:N    the first N attempts of each question get HTTP 500, then text answers
  always500     HTTP 500 forever
  ratelimit:S   the first attempt of each question gets 429 with Retry-After: S
  malformed     a 200 whose body is not JSON, forever
  truncated     a 200 whose body is cut in the middle, forever
  flakybody:N   the first N attempts of each question get a truncated body, then text answers
  maybe         answers "Maybe" (neither yes nor no)
  noauth        HTTP 401 unless the Authorization header is "Bearer sekret"
  nochoices     a 200 JSON object without choices

The answer to a question is "No" when the code contains "#no:" followed by a comma list of
question numbers (1-based, in rltf's default order) that includes this question's number, or
"#no:all"; otherwise "Yes". Every request is appended to --log as one JSON line
{model, question, code, status} (flushed), and the peak number of requests in flight is written to
--log + ".peak". The first line on stdout is the port.
"""
import argparse
import http.server
import json
import re
import sys
import threading
import time

QUESTIONS = [
    "Are the imports in the code correct?",
    "Is the code free of syntax errors?",
    "Is the code complete for the task?",
    "Is the code free of undefined variables?",
    "Is the code free of bugs?",
    "Is the code logically correct for the task?",
    "Does the API called in the code exist and fit the task?",
    "Are the arguments passed to the API correct?",
]

LOCK = threading.Lock()
ATTEMPTS = {}
IN_FLIGHT = [0, 0]  # now, peak


def leave():
    """Counts a request out of flight (once), just before its reply leaves: the peak never
    over-counts a request whose client already has its answer."""
    me = threading.current_thread()
    with LOCK:
        if getattr(me, "rltf_counted", False):
            me.rltf_counted = False
            IN_FLIGHT[0] -= 1


def answer_for(question, code):
    m = re.search(r"#no:([0-9,a-z]+)", code)
    if not m:
        return True
    if m.group(1) == "all":
        return False
    number = QUESTIONS.index(question) + 1 if question in QUESTIONS else 0
    return str(number) not in m.group(1).split(",")


def completion(content, logprobs=None):
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": [logprobs]}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test", "choices": [choice]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=(), cut=None):
        entry = getattr(self, "rltf_entry", None)
        if entry is not None:  # logged before the reply leaves: a client that has its answer sees it
            entry["status"] = status
            with LOCK, open(self.server.log, "a") as f:
                f.write(json.dumps(entry) + "\n")
                f.flush()
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        leave()
        self.wfile.write(data if cut is None else data[:cut])
        self.wfile.flush()
        self.close_connection = True

    def do_POST(self):
        with LOCK:
            IN_FLIGHT[0] += 1
            threading.current_thread().rltf_counted = True
            IN_FLIGHT[1] = max(IN_FLIGHT[1], IN_FLIGHT[0])
            with open(self.server.log + ".peak", "w") as f:
                f.write(str(IN_FLIGHT[1]))
        try:
            self.handle_post()
        finally:
            leave()

    def handle_post(self):
        if self.path != "/v1/chat/completions":
            return self.reply(404, {"error": {"message": "no route " + self.path}})
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = req["model"]
        user = req["messages"][-1]["content"]
        question = user.split("Question: ", 1)[1].split("\n", 1)[0] if "Question: " in user else ""
        code = user.split("```python\n", 1)[1].rsplit("\n```", 1)[0] if "```python\n" in user else user
        key = (model, question, code)
        with LOCK:
            attempt = ATTEMPTS.get(key, 0)
            ATTEMPTS[key] = attempt + 1
        kind, _, arg = model.partition(":")
        yes = answer_for(question, code)
        word = "Yes" if yes else "No"
        self.rltf_entry = {"model": model, "question": question, "code": code}
        if kind == "slow":
            time.sleep(float(arg))
            return self.reply(200, completion(word + "."))
        if kind == "flaky500" and attempt < int(arg) or kind == "always500":
            return self.reply(500, {"error": {"message": "internal error"}})
        if kind == "ratelimit" and attempt == 0:
            return self.reply(429, {"error": {"message": "slow down"}}, [("Retry-After", arg)])
        if kind == "malformed":
            return self.reply(200, b"<html>Bad Gateway</html>")
        if kind == "truncated" or kind == "flakybody" and attempt < int(arg):
            body = json.dumps(completion(word)).encode()
            return self.reply(200, body, cut=len(body) // 2)
        if kind == "maybe":
            return self.reply(200, completion("Maybe, it depends."))
        if kind == "nochoices":
            return self.reply(200, {"object": "chat.completion"})
        if kind == "noauth" and self.headers.get("Authorization") != "Bearer sekret":
            return self.reply(401, {"error": {"message": "invalid api key"}})
        if kind == "json":
            return self.reply(200, completion('Here is my verdict: {"answer": "%s"}' % word.lower()))
        if kind == "logprobs":
            top = [{"token": "Yes", "logprob": -0.1 if yes else -2.5}, {"token": "No", "logprob": -2.5 if yes else -0.1}]
            return self.reply(200, completion("Yes", {"token": "Yes", "logprob": top[0]["logprob"],
                                                      "top_logprobs": top}))
        return self.reply(200, completion(word + "."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.log = a.log
    open(a.log, "w").close()
    print(server.server_address[1], flush=True)
    # Stops by itself: a test server never outlives its test by long.
    threading.Timer(900, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
