#!/usr/bin/python3
"""Makes proto/etcd/ from etcd's own v3 API .proto files, and checks that it still matches them.

acdd is an etcd client (leadership for the hot standby): it needs the messages and services of
etcd's KV, Lease and Watch APIs. Debian's golang-etcd-server-dev ships etcd's .proto files, with
gogoproto and grpc-gateway options that only Go code generation reads. This script copies the
three files acd needs and removes those options, leaving every message, field number, enum,
service and package name as it is, so the wire format and the gRPC method paths
(/etcdserverpb.KV/Txn, /etcdserverpb.Lease/LeaseKeepAlive, ...) stay etcd's.

Removed: etcd's own `// TODO:` comments, `import "gogoproto/gogo.proto";`, `import "google/api/annotations.proto";`, every
`option (gogoproto.*) = ...;` and `[(gogoproto.*) = ...]`, every method's
`option (google.api.http) = { ... };` block; a method left with an empty body becomes `;`.

  proto/etcd/trim.py            # writes proto/etcd/... from /usr/share/gocode/src/go.etcd.io
  proto/etcd/trim.py --check    # exit 0: the committed files are what trimming gives, and they
                                # describe exactly what etcd's originals do, options aside;
                                # exit 77 (CTest: skipped) without golang-etcd-server-dev
"""
import os
import pathlib
import re
import subprocess
import sys
import tempfile

GOCODE = pathlib.Path("/usr/share/gocode/src")
SOURCE = GOCODE / "go.etcd.io"
PROTO_ROOT = pathlib.Path(__file__).resolve().parent.parent  # proto/: holds etcd/...
FILES = [
    "etcd/mvcc/mvccpb/kv.proto",
    "etcd/auth/authpb/auth.proto",
    "etcd/etcdserver/etcdserverpb/rpc.proto",
]
HEADER = ("// Trimmed from etcd v3.4.23 (Debian golang-etcd-server-dev 3.4.23-4) by proto/etcd/trim.py,\n"
          "// {}: code-generation options removed, wire format unchanged.\n")


def strip_http_options(text):
    out, i = [], 0
    option = re.compile(r"[ \t]*option\s*\(google\.api\.http\)\s*=\s*\{")
    while True:
        m = option.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while depth:
            depth += (text[j] == "{") - (text[j] == "}")
            j += 1
        j = text.index(";", j) + 1
        if text[j:j + 1] == "\n":
            j += 1
        i = j


def trim(text):
    text = re.sub(r'(// for grpc-gateway\n)?import "google/api/annotations\.proto";\n', "", text)
    text = re.sub(r'import "gogoproto/gogo\.proto";\n', "", text)
    text = re.sub(r"option \(gogoproto\.[a-z_]+\) = [a-z]+;\n", "", text)
    text = re.sub(r"\s*\[\(gogoproto\.[^\]]*\]", "", text)
    text = strip_http_options(text)
    text = re.sub(r"\)\s*\{\s*\}", ");", text)
    # etcd's notes to its own developers ("TODO: ..."): not work for acd, and not API.
    text = re.sub(r"[ \t]*// TODO:[^\n]*\n", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text


def write(root):
    for f in FILES:
        text = trim((SOURCE / f).read_text())
        assert "gogoproto" not in text and "google.api" not in text, f
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(HEADER.format(f) + text)


def descriptors(includes, path):
    """The etcd files of a descriptor set, with options and non-etcd imports cleared."""
    from google.protobuf import descriptor_pb2
    subprocess.run(["protoc", *[f"-I{i}" for i in includes], "--include_imports",
                    f"--descriptor_set_out={path}", *FILES], check=True)
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(pathlib.Path(path).read_bytes())
    out = {}
    for f in files.file:
        if not f.name.startswith("etcd/"):
            continue
        f.ClearField("options")
        f.ClearField("source_code_info")
        kept = [d for d in f.dependency if d.startswith("etcd/")]
        del f.dependency[:]
        f.dependency.extend(kept)
        for service in f.service:
            for method in service.method:
                method.ClearField("options")

        def clear(messages):
            for m in messages:
                for field in m.field:
                    field.ClearField("options")
                clear(m.nested_type)

        clear(f.message_type)
        out[f.name] = f.SerializeToString(deterministic=True)
    return out


def check():
    if not (SOURCE / FILES[-1]).exists():
        print(f"skipped: {SOURCE / FILES[-1]} is missing (apt-get install golang-etcd-server-dev)")
        return 77
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp) / "fresh"
        write(fresh)
        for f in FILES:
            if (fresh / f).read_text() != (PROTO_ROOT / f).read_text():
                problems.append(f"proto/{f} differs from what trim.py makes of etcd's; run proto/etcd/trim.py")
        original = descriptors([SOURCE, GOCODE / "github.com/gogo/protobuf",
                                GOCODE / "github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis",
                                "/usr/include"], os.path.join(tmp, "original.desc"))
        trimmed = descriptors([PROTO_ROOT], os.path.join(tmp, "trimmed.desc"))
    if sorted(original) != sorted(trimmed):
        problems.append(f"files differ: etcd's {sorted(original)}, ours {sorted(trimmed)}")
    for name in original:
        if original[name] != trimmed.get(name):
            problems.append(f"{name}: its messages, fields or services differ from etcd's")
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(FILES)} files: the same messages, fields, enums and services as etcd's")
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    write(PROTO_ROOT)
