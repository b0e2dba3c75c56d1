#!/usr/bin/env python3
"""Self-check for the `bosun image set` corpus (see README.md).

For every case NN-name:
  * reads NN-name.in.yaml, NN-name.edit and either NN-name.out.yaml or
    NN-name.error;
  * computes, with an independent reference implementation built on PyYAML's
    node marks, the output the rules in README.md prescribe (or the error);
  * checks that the hand-written .out.yaml is byte-identical to it, or that
    the case is rejected and the reference error message contains every word
    of the .error file (case-sensitive substrings);
  * prints the byte ranges that differ between .in.yaml and .out.yaml, both
    the intended ones (scalar span -> new text) and a raw byte diff.

Usage: python3 check.py [-q] [CASE-PREFIX ...]     (exit status 1 on failure)

PyYAML is a YAML 1.1 parser that, unlike libyaml/go-yaml, rejects a tab
between a plain scalar and its `#` comment.  To parse such files we give it a
copy in which every tab is replaced by a space; this keeps all character
offsets unchanged, and the corpus has tabs only in comments and separation
whitespace.  Offsets printed below are BYTE offsets into the files.
"""

import difflib
import os
import json
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check.py needs PyYAML (pip install pyyaml)")

HERE = os.path.dirname(os.path.abspath(__file__))
KUSTOMIZE_FIELDS = ("newName", "newTag", "digest")


class EditError(Exception):
    pass


# ---------------------------------------------------------------- edit line

def split_edit_line(line):
    """`K=V K=V ...` -> [(K, V)].  The separator is the first `=` that is not
    inside `[...]` (kustomization selectors contain `=`)."""
    edits = []
    for tok in line.split():
        depth = 0
        for i, c in enumerate(tok):
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c == "=" and depth == 0:
                edits.append((tok[:i], tok[i + 1:]))
                break
        else:
            raise ValueError("edit token without `=`: %r" % tok)
    return edits


def parse_path(key):
    """`a.b[1].c`, `images[name=x].newTag` -> [("key", "a"), ("index", 1),
    ("select", ("name", "x")), ...]"""
    segs, cur, i = [], "", 0
    while i < len(key):
        c = key[i]
        if c == ".":
            if cur:
                segs.append(("key", cur))
                cur = ""
            i += 1
        elif c == "[":
            if cur:
                segs.append(("key", cur))
                cur = ""
            j = key.index("]", i)
            inner = key[i + 1:j]
            if inner.isdigit():
                segs.append(("index", int(inner)))
            elif "=" in inner:
                k, v = inner.split("=", 1)
                segs.append(("select", (k, v)))
            else:
                raise ValueError("bad selector %r in %r" % (inner, key))
            i = j + 1
        else:
            cur += c
            i += 1
    if cur:
        segs.append(("key", cur))
    return segs


def seg_text(segs):
    out = ""
    for kind, val in segs:
        if kind == "key":
            out += ("." if out else "") + val
        elif kind == "index":
            out += "[%d]" % val
        else:
            out += "[%s=%s]" % val
    return out


# ---------------------------------------------------------- scalar styles

CORE_12 = [  # YAML 1.2 core schema, non-string plain scalars
    r"~|null|Null|NULL|",
    r"true|True|TRUE|false|False|FALSE",
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?",
    r"[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN",
]
EXTRA_11 = [  # YAML 1.1 bits PyYAML does not implement
    r"y|Y|n|N",
]


def reads_as_non_string(v):
    for pat in CORE_12 + EXTRA_11:
        if re.fullmatch(pat, v):
            return True
    try:  # YAML 1.1 (bool yes/no/on/off, octal, sexagesimal, timestamps...)
        return not isinstance(yaml.safe_load(v), str)
    except yaml.YAMLError:
        return True


def plain_ok(v, in_flow):
    if v == "" or v != v.strip() or "\t" in v or "\n" in v:
        return False
    if v[0] in "-?:,[]{}#&*!|>'\"%@`":
        return False
    if ": " in v or " #" in v or v.endswith(":"):
        return False
    if in_flow and any(c in v for c in ",[]{}"):
        return False
    return not reads_as_non_string(v)


def double_quoted(v):
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(style, v, in_flow):
    if style == '"':
        return double_quoted(v)
    if style == "'":
        return "'" + v.replace("'", "''") + "'"
    return v if plain_ok(v, in_flow) else double_quoted(v)


# ------------------------------------------------------------- resolution

def is_alias(value_node, before_index):
    # An alias re-uses the node of its anchor, which always starts earlier
    # in the text than the place where the alias is written.
    return value_node.start_mark.index < before_index


def resolve(doc, segs):
    """Returns ("set", scalar_node, in_flow) or ("add", mapping_node, key)."""
    node, in_flow, selected = doc, False, False
    for n, (kind, val) in enumerate(segs):
        here = seg_text(segs[: n + 1])
        last = n == len(segs) - 1
        if kind == "key":
            if not isinstance(node, yaml.MappingNode):
                what = "scalar" if isinstance(node, yaml.ScalarNode) else "sequence"
                raise EditError("%s: `%s` is a %s, not a mapping"
                                % (seg_text(segs), seg_text(segs[:n]), what))
            hit = None
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == val:
                    hit = (k, v)
                    break
            if hit is None:
                if last and selected and val in KUSTOMIZE_FIELDS:
                    return ("add", node, val)
                raise EditError("%s: key `%s` not found" % (here, val))
            k, v = hit
            if is_alias(v, k.end_mark.index):
                raise EditError("%s: value is an alias; edit its anchor instead" % here)
            in_flow = bool(node.flow_style)
            node, selected = v, False
        elif kind == "index":
            if not isinstance(node, yaml.SequenceNode):
                raise EditError("%s: `%s` is not a sequence" % (seg_text(segs), seg_text(segs[:n])))
            if val >= len(node.value):
                raise EditError("%s: not found (sequence has %d items)" % (here, len(node.value)))
            item = node.value[val]
            if is_alias(item, node.start_mark.index):
                raise EditError("%s: item is an alias" % here)
            in_flow = bool(node.flow_style)
            node, selected = item, False
        else:  # select [k=v]
            sk, sv = val
            if not isinstance(node, yaml.SequenceNode):
                raise EditError("%s: `%s` is not a sequence" % (seg_text(segs), seg_text(segs[:n])))
            hit = None
            for item in node.value:
                if isinstance(item, yaml.MappingNode):
                    for k, v in item.value:
                        if (isinstance(k, yaml.ScalarNode) and k.value == sk
                                and isinstance(v, yaml.ScalarNode) and v.value == sv):
                            hit = item
                            break
                if hit is not None:
                    break
            if hit is None:
                raise EditError("%s: no entry with %s=%s; not found" % (here, sk, sv))
            in_flow = bool(node.flow_style)
            node, selected = hit, True
    if isinstance(node, yaml.MappingNode):
        raise EditError("%s: value is a mapping, not a scalar" % seg_text(segs))
    if isinstance(node, yaml.SequenceNode):
        raise EditError("%s: value is a sequence, not a scalar" % seg_text(segs))
    if node.style in ("|", ">"):
        raise EditError("%s: block scalars are not supported" % seg_text(segs))
    return ("set", node, in_flow)


def scalar_span(text, node):
    """Character span of the scalar's own text: skips `&anchor` / `!tag`."""
    s, e = node.start_mark.index, node.end_mark.index
    while text[s] in "&!":
        while text[s] not in " \t\r\n":
            s += 1
        while text[s] in " \t\r\n":
            s += 1
    return s, e


MARKER = re.compile(r"#\s*(\{.*\})\s*$")


def marked(text, docs, policy):
    """Flux setters: the value scalars whose line comment, right after them (only blanks
    between), is `# {"$imagepolicy": "<policy>"}`, in every document."""
    found = []

    def walk(node, is_value):
        if isinstance(node, yaml.MappingNode):
            for _, v in node.value:
                walk(v, True)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, True)
        elif is_value:
            rest = text[node.end_mark.index:].split("\n", 1)[0].rstrip("\r")
            m = MARKER.fullmatch(rest.lstrip(" \t")) if rest.lstrip(" \t").startswith("#") else None
            if m:
                try:
                    if json.loads(m.group(1)).get("$imagepolicy") == policy:
                        found.append(node)
                except ValueError:
                    pass

    for doc in docs:
        walk(doc, False)
    return found


def plan(text, edits):
    """Resolve every edit against the ORIGINAL text.  Returns a list of
    (char_start, char_end, replacement) in original coordinates."""
    docs = list(yaml.compose_all(text.replace("\t", " "), Loader=yaml.SafeLoader))
    docs = [d for d in docs if d is not None]
    ops = []
    for key, value in edits:
        if key.startswith("$imagepolicy(") and key.endswith(")"):
            policy = key[len("$imagepolicy("):-1]
            nodes = marked(text, docs, policy)
            if not nodes:
                raise EditError("%s: not found (no line ends in the marker %s)" % (key, policy))
            for node in nodes:
                s, e = scalar_span(text, node)
                ops.append((s, e, render(node.style, value, False)))
            continue
        segs = parse_path(key)
        first_err, got = None, None
        for doc in docs:  # the first document that has the path wins
            try:
                got = resolve(doc, segs)
                break
            except EditError as e:
                first_err = first_err or e
        if got is None:
            raise first_err or EditError("%s: not found (empty file)" % key)
        if got[0] == "set":
            _, node, in_flow = got
            s, e = scalar_span(text, node)
            ops.append((s, e, render(node.style, value, in_flow)))
        else:
            _, mapping, field = got
            if mapping.flow_style:
                raise EditError("%s: cannot add a field to a flow mapping" % key)
            end = mapping.value[-1][1].end_mark.index
            nl = text.find("\n", end)
            if nl == -1:
                raise EditError("%s: cannot add a field after the last line" % key)
            eol = "\r\n" if text[nl - 1] == "\r" else "\n"
            line = " " * mapping.start_mark.column + field + ": " + render(None, value, False) + eol
            ops.append((nl + 1, nl + 1, line))
    ops.sort()
    for a, b in zip(ops, ops[1:]):
        if a[1] > b[0] or (a[0] == b[0]):
            raise EditError("two edits touch the same place")
    return ops


def apply(text, ops):
    for s, e, rep in sorted(ops, reverse=True):
        text = text[:s] + rep + text[e:]
    return text


def value_at(data_docs, segs):
    for d in data_docs:
        cur = d
        try:
            for kind, val in segs:
                if kind == "key":
                    cur = cur[val]
                elif kind == "index":
                    cur = cur[val]
                else:
                    cur = next(x for x in cur if isinstance(x, dict) and x.get(val[0]) == val[1])
            return cur
        except (KeyError, IndexError, TypeError, StopIteration):
            continue
    raise KeyError(seg_text(segs))


# ------------------------------------------------------------------ main

def byte_off(text, i):
    return len(text[:i].encode("utf-8"))


def check_case(name, quiet):
    p = lambda ext: os.path.join(HERE, name + ext)
    inb = open(p(".in.yaml"), "rb").read()
    text = inb.decode("utf-8")
    edit_line = open(p(".edit"), "rb").read().decode("utf-8")
    edit_line = edit_line[:-1] if edit_line.endswith("\n") else edit_line
    assert "\n" not in edit_line, "edit file must be one line"
    edits = split_edit_line(edit_line)
    has_out, has_err = os.path.exists(p(".out.yaml")), os.path.exists(p(".error"))
    if has_out == has_err:
        return ["needs exactly one of .out.yaml / .error"], []
    problems, report = [], []
    try:
        ops = plan(text, edits)
        err = None
    except EditError as e:
        ops, err = None, str(e)

    if has_err:
        words = open(p(".error"), "rb").read().decode("utf-8").split()
        if err is None:
            problems.append("expected an error, reference succeeded")
        else:
            missing = [w for w in words if w not in err]
            if missing:
                problems.append("reference error %r lacks %r" % (err, missing))
            report.append("  error: %s   (must contain: %s)" % (err, " ".join(words)))
        return problems, report

    outb = open(p(".out.yaml"), "rb").read()
    if err is not None:
        return ["reference rejected the edit: " + err], report
    expected = apply(text, ops).encode("utf-8")
    if expected != outb:
        problems.append("out.yaml differs from reference output")
        for l in difflib.unified_diff(expected.decode().splitlines(True),
                                      outb.decode().splitlines(True),
                                      "reference", "out.yaml", n=1):
            report.append("    " + l.rstrip("\n"))
    shift = 0
    for s, e, rep in ops:
        bs, be = byte_off(text, s), byte_off(text, e)
        new = rep.encode("utf-8")
        report.append("  intended: in[%d:%d] %r -> out[%d:%d] %r"
                      % (bs, be, inb[bs:be], bs + shift, bs + shift + len(new), new))
        shift += len(new) - (be - bs)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, inb, outb, autojunk=False).get_opcodes():
        if tag != "equal":
            report.append("  raw diff: %-7s in[%d:%d] %r -> out[%d:%d] %r"
                          % (tag, i1, i2, inb[i1:i2], j1, j2, outb[j1:j2]))
    # Semantic sanity: the output still parses and holds the new strings.
    try:
        data = [d for d in yaml.safe_load_all(outb.decode().replace("\t", " ")) if d is not None]
        for key, value in edits:
            if key.startswith("$imagepolicy("):
                continue  # read back by the marker walk below
            got = value_at(data, parse_path(key))
            if got != value:
                problems.append("%s reads back as %r, not %r" % (key, got, value))
    except Exception as e:  # noqa
        problems.append("output does not parse back: %s" % e)
    return problems, report


def main(argv):
    quiet = "-q" in argv
    prefixes = [a for a in argv if a != "-q"]
    names = sorted({f[: -len(".in.yaml")] for f in os.listdir(HERE) if f.endswith(".in.yaml")})
    if prefixes:
        names = [n for n in names if any(n.startswith(x) for x in prefixes)]
    failed = 0
    for name in names:
        problems, report = check_case(name, quiet)
        kind = "error" if os.path.exists(os.path.join(HERE, name + ".error")) else "edit"
        print("%-4s %-5s %s" % ("FAIL" if problems else "ok", kind, name))
        for pr in problems:
            print("  !! " + pr)
        if not quiet or problems:
            for r in report:
                print(r)
        failed += bool(problems)
    print("%d cases, %d failed" % (len(names), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
