#!/usr/bin/env python3
"""Generate cairn's protocol definitions from shm-protocol/schema.json.

Standard library only: the build runs this on any machine with Python 3.

  gen.py SCHEMA --c-header OUT       public C header (include/cairn/protocol.h)
  gen.py SCHEMA --c-desc OUT         internal C tables: field layout, errors, messages
  gen.py SCHEMA --go OUT             Go constants (package cairn)
  gen.py SCHEMA --python OUT         Python constants
  gen.py SCHEMA --js OUT             JavaScript constants (CommonJS)
  gen.py SCHEMA --js-dts OUT         their TypeScript declarations
  gen.py SCHEMA --encode-vectors DIR write DIR/NAME.bin from every DIR/NAME.json
  gen.py SCHEMA --check-vectors DIR  exit 1 unless every .bin equals its .json encoded
  gen.py SCHEMA --check-bindings DIR exit 1 unless the constants committed in the bindings
                                     of the source tree DIR are what this writes

Every layout rule is checked here, before any language sees the schema: fields are
naturally aligned, offsets are contiguous, explicit padding fills every gap, and the
declared size of each struct is the sum of its fields.
"""

import argparse
import json
import os
import re
import sys

SCALARS = {
    "u8": (1, "uint8_t", "u"),
    "u16": (2, "uint16_t", "u"),
    "u32": (4, "uint32_t", "u"),
    "u64": (8, "uint64_t", "u"),
    "i8": (1, "int8_t", "i"),
    "i16": (2, "int16_t", "i"),
    "i32": (4, "int32_t", "i"),
    "i64": (8, "int64_t", "i"),
}


class SchemaError(Exception):
    pass


def parse_int(v):
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v, 0)
    raise SchemaError("not an integer: %r" % (v,))


class Schema:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.raw = json.load(f)
        self.path = path
        self.major = self.raw["version"]["major"]
        self.minor = self.raw["version"]["minor"]
        self.constants = [(c["name"], parse_int(c["value"]), c.get("doc", ""))
                          for c in self.raw["constants"]]
        self.enums = self.raw["enums"]
        self.errors = self.raw["errors"]
        self.structs = {}
        self.struct_order = []
        for s in self.raw["structs"]:
            self._add_struct(s)
        self.messages = self.raw["messages"]
        self._check_messages()

    def _add_struct(self, s):
        name = s["name"]
        if name in self.structs:
            raise SchemaError("struct %s defined twice" % name)
        off = 0
        align = 1
        fields = []
        for f in s["fields"]:
            count = f.get("count", 1)
            t = f["type"]
            if t in SCALARS:
                esize = SCALARS[t][0]
                ealign = esize
            elif t in self.structs:
                esize = self.structs[t]["size"]
                ealign = self.structs[t]["align"]
            else:
                raise SchemaError("%s.%s: unknown type %s (structs must be defined before use)"
                                  % (name, f["name"], t))
            if off % ealign:
                raise SchemaError("%s.%s at offset %d is not aligned to %d: add explicit padding"
                                  % (name, f["name"], off, ealign))
            fields.append(dict(f, offset=off, esize=esize, count=count, array="count" in f))
            off += esize * count
            align = max(align, ealign)
        if off != s["size"]:
            raise SchemaError("struct %s: fields add up to %d bytes, declared %d"
                              % (name, off, s["size"]))
        if off % align:
            raise SchemaError("struct %s: size %d is not a multiple of its alignment %d"
                              % (name, off, align))
        self.structs[name] = dict(s, fields=fields, align=align)
        self.struct_order.append(name)

    def _check_messages(self):
        payload_size = self.constant("PAYLOAD_SIZE")
        seen = set()
        for m in self.messages:
            if m["value"] in seen:
                raise SchemaError("message value %d used twice" % m["value"])
            seen.add(m["value"])
            p = self.structs.get(m["payload"])
            if p is None or not p.get("payload"):
                raise SchemaError("message %s: %s is not a payload struct" % (m["name"], m["payload"]))
            if p["size"] != payload_size:
                raise SchemaError("payload %s must be exactly %d bytes" % (p["name"], payload_size))
            lo, hi = self.length_range(m)
            if not 0 <= lo <= hi <= payload_size:
                raise SchemaError("message %s: length range %d..%d" % (m["name"], lo, hi))

    def constant(self, name):
        for n, v, _ in self.constants:
            if n == name:
                return v
        raise SchemaError("no constant %s" % name)

    @staticmethod
    def length_range(m):
        ln = m["length"]
        if isinstance(ln, int):
            return ln, ln
        a, b = ln.split("..")
        return int(a), int(b)

    def flat_fields(self, sname, prefix=""):
        """Yield (dotted name, offset, elem size, count, kind) for every scalar field."""
        for f in self.structs[sname]["fields"]:
            t = f["type"]
            if t in SCALARS:
                yield (prefix + f["name"], f["offset"], f["esize"], f["count"], SCALARS[t][2])
            else:
                for i in range(f["count"]):
                    sub = prefix + f["name"] + ("[%d]" % i if f["count"] > 1 else "") + "."
                    for (n, o, es, c, k) in self.flat_fields(t, sub):
                        yield (n, f["offset"] + i * f["esize"] + o, es, c, k)


HEADER_NOTE = "Generated by shm-protocol/gen.py from shm-protocol/schema.json. Do not edit."


def c_comment(text, indent=""):
    if not text:
        return ""
    words = text.split()
    lines, cur = [], ""
    for w in words:
        if len(cur) + len(w) + 1 > 84 - len(indent):
            lines.append(cur)
            cur = w
        else:
            cur = (cur + " " + w).strip()
    lines.append(cur)
    if len(lines) == 1:
        return "%s/* %s */\n" % (indent, lines[0])
    return indent + "/*\n" + "".join("%s * %s\n" % (indent, l) for l in lines) + indent + " */\n"


def c_header(s):
    o = []
    o.append("/* %s */\n" % HEADER_NOTE)
    o.append("#ifndef CAIRN_PROTOCOL_H\n#define CAIRN_PROTOCOL_H\n\n")
    o.append("#include <stddef.h>\n#include <stdint.h>\n\n")
    o.append("#ifdef __cplusplus\n#define CAIRN_PROTO_ASSERT(e, m) static_assert(e, m)\n"
             "#else\n#define CAIRN_PROTO_ASSERT(e, m) _Static_assert(e, m)\n#endif\n\n")
    o.append(c_comment(s.raw.get("doc", "")))
    o.append("#define CAIRN_PROTO_MAJOR %d\n#define CAIRN_PROTO_MINOR %d\n\n" % (s.major, s.minor))
    for n, v, doc in s.constants:
        o.append(c_comment(doc))
        lit = "UINT64_C(0x%016X)" % v if v > 0xFFFFFFFF else ("0x%X" % v if v >= 0x8000 else str(v))
        o.append("#define CAIRN_%s %s\n" % (n, lit))
    o.append("\n")
    for e in s.enums:
        o.append(c_comment(e.get("doc", "")))
        o.append("enum cairn_%s {\n" % e["name"])
        for v in e["values"]:
            o.append(c_comment(v.get("doc", ""), "\t"))
            o.append("\t%s%s = %d,\n" % (e["prefix"], v["name"], v["value"]))
        o.append("};\n\n")
    o.append("/* Message types. A command of type T is answered by T | CAIRN_REPLY_BIT or by ERROR. */\n")
    o.append("enum cairn_msg_type {\n")
    for m in s.messages:
        o.append(c_comment(m.get("doc", ""), "\t"))
        o.append("\tCAIRN_MSG_%s = 0x%04X,\n" % (m["name"], m["value"]))
    o.append("};\n\n")
    for m in s.messages:
        lo, hi = s.length_range(m)
        o.append("#define CAIRN_MSG_%s_LEN_MIN %d\n#define CAIRN_MSG_%s_LEN_MAX %d\n"
                 % (m["name"], lo, m["name"], hi))
    o.append("\n/*\n * Protocol error codes, carried in msg_hdr.status of ERROR results and returned\n"
             " * negated by libcairn. They start above every errno value so the two never collide.\n */\n")
    o.append("enum cairn_error {\n")
    for e in s.errors:
        o.append(c_comment(e["message"], "\t"))
        o.append("\tCAIRN_E_%s = %d,\n" % (e["name"], e["value"]))
    o.append("};\n")
    o.append("#define CAIRN_E__FIRST %d\n#define CAIRN_E__LAST %d\n\n"
             % (min(e["value"] for e in s.errors), max(e["value"] for e in s.errors)))
    for name in s.struct_order:
        st = s.structs[name]
        o.append(c_comment(st.get("doc", "")))
        o.append("struct cairn_%s {\n" % name)
        for f in st["fields"]:
            t = f["type"]
            ct = SCALARS[t][1] if t in SCALARS else "struct cairn_%s" % t
            arr = "[%d]" % f["count"] if f["array"] else ""
            o.append(c_comment(f.get("doc", ""), "\t"))
            o.append("\t%s %s%s;\n" % (ct, f["name"], arr))
        o.append("};\n")
        o.append('CAIRN_PROTO_ASSERT(sizeof(struct cairn_%s) == %d, "cairn_%s size");\n'
                 % (name, st["size"], name))
        for f in st["fields"]:
            o.append('CAIRN_PROTO_ASSERT(offsetof(struct cairn_%s, %s) == %d, "cairn_%s.%s offset");\n'
                     % (name, f["name"], f["offset"], name, f["name"]))
        o.append("\n")
    o.append("#endif /* CAIRN_PROTOCOL_H */\n")
    return "".join(o)


def c_string(x):
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


def c_desc(s):
    o = []
    o.append("/* %s */\n" % HEADER_NOTE)
    o.append("/* Internal tables describing the protocol, for libcairn, the tools and the tests. */\n")
    o.append("#ifndef CAIRN_PROTOCOL_DESC_H\n#define CAIRN_PROTOCOL_DESC_H\n\n")
    o.append("#include <stdint.h>\n\n#include \"cairn/protocol.h\"\n\n")
    o.append("struct cairn__field_desc {\n\tconst char *name;\n\tuint32_t offset;\n"
             "\tuint32_t size;\t/* bytes of one element */\n\tuint32_t count;\t/* elements */\n"
             "\tchar kind;\t/* 'u' unsigned, 'i' signed */\n};\n\n")
    o.append("struct cairn__struct_desc {\n\tconst char *name;\n\tuint32_t size;\n"
             "\tuint32_t nfields;\n\tconst struct cairn__field_desc *fields;\n};\n\n")
    o.append("struct cairn__error_desc {\n\tint code;\n\tconst char *name;\n\tconst char *message;\n};\n\n")
    o.append("struct cairn__msg_desc {\n\tuint16_t type;\n\tuint16_t reply;\t/* 0 for results */\n"
             "\tuint8_t len_min;\n\tuint8_t len_max;\n\tconst char *name;\n\tconst char *payload;\n};\n\n")
    for name in s.struct_order:
        o.append("static const struct cairn__field_desc cairn__fields_%s[] = {\n" % name)
        for (n, off, es, c, k) in s.flat_fields(name):
            o.append("\t{ %s, %d, %d, %d, '%s' },\n" % (c_string(n), off, es, c, k))
        o.append("};\n")
    o.append("\nstatic const struct cairn__struct_desc cairn__proto_structs[] = {\n")
    for name in s.struct_order:
        o.append("\t{ %s, %d, sizeof(cairn__fields_%s) / sizeof(cairn__fields_%s[0]), cairn__fields_%s },\n"
                 % (c_string(name), s.structs[name]["size"], name, name, name))
    o.append("};\n#define CAIRN__PROTO_NSTRUCTS %d\n\n" % len(s.struct_order))
    o.append("static const struct cairn__error_desc cairn__proto_errors[] = {\n")
    for e in s.errors:
        o.append("\t{ CAIRN_E_%s, %s, %s },\n" % (e["name"], c_string(e["name"]), c_string(e["message"])))
    o.append("};\n#define CAIRN__PROTO_NERRORS %d\n\n" % len(s.errors))
    byname = {m["name"]: m for m in s.messages}
    o.append("static const struct cairn__msg_desc cairn__proto_msgs[] = {\n")
    for m in s.messages:
        lo, hi = s.length_range(m)
        reply = "CAIRN_MSG_%s" % m["reply"] if "reply" in m else "0"
        if "reply" in m and m["reply"] not in byname:
            raise SchemaError("message %s: reply %s is not a message" % (m["name"], m["reply"]))
        o.append("\t{ CAIRN_MSG_%s, %s, %d, %d, %s, %s },\n"
                 % (m["name"], reply, lo, hi, c_string(m["name"]), c_string(m["payload"])))
    o.append("};\n#define CAIRN__PROTO_NMSGS %d\n\n" % len(s.messages))
    o.append("#endif /* CAIRN_PROTOCOL_DESC_H */\n")
    return "".join(o)


def camel(name):
    return "".join(p[:1].upper() + p[1:].lower() for p in name.split("_") if p)


def lang_items(s):
    """(kind, NAME, value, doc) for every constant, in a language-neutral form."""
    items = [("const", "PROTO_MAJOR", s.major, "Protocol major version."),
             ("const", "PROTO_MINOR", s.minor, "Protocol minor version.")]
    for n, v, doc in s.constants:
        items.append(("const", n, v, doc))
    for e in s.enums:
        for v in e["values"]:
            items.append(("const", e["prefix"][len("CAIRN_"):] + v["name"], v["value"], v.get("doc", "")))
    for m in s.messages:
        items.append(("const", "MSG_" + m["name"], m["value"], m.get("doc", "")))
        lo, hi = s.length_range(m)
        items.append(("const", "MSG_%s_LEN_MIN" % m["name"], lo, ""))
        items.append(("const", "MSG_%s_LEN_MAX" % m["name"], hi, ""))
    for e in s.errors:
        items.append(("const", "E_" + e["name"], e["value"], e["message"]))
    for name in s.struct_order:
        st = s.structs[name]
        items.append(("const", "%s_SIZE" % name.upper(), st["size"], ""))
        for (n, off, es, c, k) in s.flat_fields(name):
            key = re.sub(r"[^A-Za-z0-9]+", "_", n).strip("_").upper()
            items.append(("const", "%s_OFF_%s" % (name.upper(), key), off, ""))
    # A struct's size may coincide with a named constant (SLOT_SIZE, MSG_SIZE): each name
    # is declared once (Go refuses a second declaration), and one name with two values
    # is an error in the schema.
    seen, out = {}, []
    for it in items:
        if it[1] in seen:
            if seen[it[1]] != it[2]:
                raise SchemaError("constant %s is both %d and %d" % (it[1], seen[it[1]], it[2]))
            continue
        seen[it[1]] = it[2]
        out.append(it)
    return out


def struct_tables(s):
    """(name, size, [(dotted field, offset, elem size, count, 'u' or 'i')]) per struct."""
    return [(name, s.structs[name]["size"], list(s.flat_fields(name))) for name in s.struct_order]


def go_file(s):
    o = ["// Code generated by shm-protocol/gen.py from shm-protocol/schema.json. DO NOT EDIT.\n\n",
         "package cairn\n"]
    # One declaration a line: gofmt aligns the '=' of a const block, which this would
    # have to copy; lone declarations it leaves as they are.
    for _, n, v, doc in lang_items(s):
        if doc:
            o.append("\n// %s %s\n" % (camel(n), doc))
        o.append("const %s = %s\n" % (camel(n), "0x%X" % v if v > 0xFFFF else v))
    o.append("\n")
    o.append("// ErrorMessages maps each protocol error code to its message.\n")
    o.append("var ErrorMessages = map[int32]string{\n")
    for e in s.errors:
        o.append("\t%d: %s,\n" % (e["value"], json.dumps(e["message"])))
    o.append("}\n\n// ErrorNames maps each protocol error code to its schema name.\n")
    o.append("var ErrorNames = map[int32]string{\n")
    for e in s.errors:
        o.append("\t%d: %s,\n" % (e["value"], json.dumps(e["name"])))
    o.append("}\n\n")
    o.append("// StructField is one scalar field of a struct, arrays flattened to their element.\n")
    o.append("type StructField struct {\n\tName   string // dotted for nested structs\n"
             "\tOffset int\n\tSize   int // bytes of one element\n"
             "\tCount  int // elements (1 for a scalar)\n\tSigned bool\n}\n\n")
    o.append("// StructLayout is the size and fields of one schema struct.\n")
    o.append("type StructLayout struct {\n\tSize   int\n\tFields []StructField\n}\n\n")
    o.append("// Structs describes every schema struct, by name.\n")
    o.append("var Structs = map[string]StructLayout{\n")
    for name, size, fields in struct_tables(s):
        o.append("\t%s: {%d, []StructField{\n" % (json.dumps(name), size))
        for (n, off, es, c, k) in fields:
            o.append("\t\t{%s, %d, %d, %d, %s},\n" % (json.dumps(n), off, es, c,
                                                   "true" if k == "i" else "false"))
        o.append("\t}},\n")
    o.append("}\n")
    return "".join(o)


def py_file(s):
    o = ['"""%s"""\n\n' % HEADER_NOTE]
    for _, n, v, doc in lang_items(s):
        o.append("%s = %s%s\n" % (n, "0x%X" % v if v > 0xFFFF else v, ("  # " + doc) if doc else ""))
    o.append("\nERROR_MESSAGES = {\n")
    for e in s.errors:
        o.append("    %d: %s,\n" % (e["value"], json.dumps(e["message"])))
    o.append("}\n\nERROR_NAMES = {\n")
    for e in s.errors:
        o.append("    %d: %s,\n" % (e["value"], json.dumps(e["name"])))
    o.append("}\n\n")
    o.append("# Every schema struct: (size, [(dotted field, offset, element size, count, signed)]).\n")
    o.append("STRUCTS = {\n")
    for name, size, fields in struct_tables(s):
        o.append("    %s: (%d, [\n" % (json.dumps(name), size))
        for (n, off, es, c, k) in fields:
            o.append("        (%s, %d, %d, %d, %s),\n" % (json.dumps(n), off, es, c, "True" if k == "i" else "False"))
        o.append("    ]),\n")
    o.append("}\n")
    return "".join(o)


def js_file(s):
    o = ["// %s\n'use strict';\n\n" % HEADER_NOTE]
    for _, n, v, doc in lang_items(s):
        lit = "0x%X" % v if v > 0xFFFF else str(v)
        if v >= 2 ** 53:
            lit += "n"
        if doc:
            o.append("/** %s */\n" % doc)
        o.append("exports.%s = %s;\n" % (n, lit))
    o.append("\nexports.ERROR_MESSAGES = Object.freeze({\n")
    for e in s.errors:
        o.append("  %d: %s,\n" % (e["value"], json.dumps(e["message"])))
    o.append("});\n\nexports.ERROR_NAMES = Object.freeze({\n")
    for e in s.errors:
        o.append("  %d: %s,\n" % (e["value"], json.dumps(e["name"])))
    o.append("});\n\n")
    o.append("/** Every schema struct: {size, fields: [[dotted field, offset, element size, count, signed]]}. */\n")
    o.append("exports.STRUCTS = Object.freeze({\n")
    for name, size, fields in struct_tables(s):
        o.append("  %s: Object.freeze({size: %d, fields: Object.freeze([\n" % (json.dumps(name), size))
        for (n, off, es, c, k) in fields:
            o.append("    [%s, %d, %d, %d, %s],\n" % (json.dumps(n), off, es, c, "true" if k == "i" else "false"))
        o.append("  ])}),\n")
    o.append("});\n")
    return "".join(o)


def js_dts_file(s):
    """The TypeScript declarations of js_file's module, constant by constant."""
    def doc_line(doc):
        return "/** %s */\n" % doc.replace("*/", "*\\/") if doc else ""
    o = ["// %s\n// The types of protocol.js, beside it.\n\n" % HEADER_NOTE]
    for _, n, v, doc in lang_items(s):
        o.append(doc_line(doc))
        o.append("export declare const %s: %s;\n" % (n, "bigint" if v >= 2 ** 53 else "number"))
    o.append("\n")
    o.append(doc_line("Each error code's message, as cairnd and libcairn word it."))
    o.append("export declare const ERROR_MESSAGES: { readonly [code: number]: string };\n")
    o.append(doc_line("Each error code's name, without the E_."))
    o.append("export declare const ERROR_NAMES: { readonly [code: number]: string };\n")
    o.append(doc_line("A struct field: dotted name, offset, element size, count, signed."))
    o.append("export type StructField = readonly [name: string, offset: number, size: number, "
             "count: number, signed: boolean];\n")
    o.append(doc_line("Every schema struct: its size and fields."))
    o.append("export declare const STRUCTS: { readonly [name: string]: "
             "{ readonly size: number; readonly fields: readonly StructField[] } };\n")
    return "".join(o)


def encode_vector(s, vec):
    """Encode a vector's field values into bytes. Fields not named are zero."""
    sname = vec["struct"]
    if sname not in s.structs:
        raise SchemaError("vector names unknown struct %s" % sname)
    buf = bytearray(s.structs[sname]["size"])
    layout = {n: (off, es, c, k) for (n, off, es, c, k) in s.flat_fields(sname)}
    for name, value in vec["fields"].items():
        if name not in layout:
            raise SchemaError("vector field %s is not in struct %s" % (name, sname))
        off, es, c, k = layout[name]
        if es == 1 and c > 1:
            if not isinstance(value, str):
                raise SchemaError("%s: a byte array is written as a hex string" % name)
            data = bytes.fromhex(value)
            if len(data) > c:
                raise SchemaError("%s: %d bytes do not fit in %d" % (name, len(data), c))
            buf[off:off + len(data)] = data
            continue
        values = value if c > 1 else [value]
        if len(values) > c:
            raise SchemaError("%s: %d values do not fit in %d" % (name, len(values), c))
        if not isinstance(values, list):
            raise SchemaError("%s: an array of %d values is written as a list" % (name, c))
        for i, v in enumerate(values):
            v = parse_int(v)
            try:
                raw = v.to_bytes(es, "little", signed=(k == "i"))
            except OverflowError:
                raise SchemaError("%s: %d does not fit in %d bytes (%s)"
                                  % (name, v, es, "signed" if k == "i" else "unsigned"))
            buf[off + i * es:off + (i + 1) * es] = raw
    return bytes(buf)


def vector_files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".json"))


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("schema")
    ap.add_argument("--c-header")
    ap.add_argument("--c-desc")
    ap.add_argument("--go")
    ap.add_argument("--python")
    ap.add_argument("--js")
    ap.add_argument("--js-dts")
    ap.add_argument("--encode-vectors", metavar="DIR")
    ap.add_argument("--check-vectors", metavar="DIR")
    ap.add_argument("--check-bindings", metavar="DIR")
    a = ap.parse_args()
    try:
        s = Schema(a.schema)
        for path, fn in ((a.c_header, c_header), (a.c_desc, c_desc), (a.go, go_file),
                         (a.python, py_file), (a.js, js_file), (a.js_dts, js_dts_file)):
            if path:
                write_if_changed(path, fn(s))
        if a.encode_vectors:
            for j in vector_files(a.encode_vectors):
                with open(j, encoding="utf-8") as f:
                    data = encode_vector(s, json.load(f))
                with open(j[:-5] + ".bin", "wb") as f:
                    f.write(data)
        if a.check_vectors:
            files = vector_files(a.check_vectors)
            bad = 0
            for j in files:
                with open(j, encoding="utf-8") as f:
                    want = encode_vector(s, json.load(f))
                try:
                    with open(j[:-5] + ".bin", "rb") as f:
                        got = f.read()
                except FileNotFoundError:
                    got = None
                if got != want:
                    print("FAIL %s: .bin differs from its .json encoded" % os.path.basename(j))
                    bad += 1
            print("%d passed, %d failed" % (len(files) - bad, bad))
            if not files or bad:
                return 1
        if a.check_bindings:
            bad = 0
            for rel, fn, flag in (("bindings/go/protocol_gen.go", go_file, "--go"),
                                  ("bindings/python/cairn/_protocol.py", py_file, "--python"),
                                  ("bindings/node/lib/protocol.js", js_file, "--js"),
                                  ("bindings/node/lib/protocol.d.ts", js_dts_file, "--js-dts")):
                path = os.path.join(a.check_bindings, rel)
                try:
                    with open(path, encoding="utf-8") as f:
                        same = f.read() == fn(s)
                except FileNotFoundError:
                    same = False
                if same:
                    print("ok %s" % rel)
                else:
                    print("FAIL %s is missing or stale: regenerate it with "
                          "python3 shm-protocol/gen.py shm-protocol/schema.json %s %s"
                          % (rel, flag, rel))
                    bad += 1
            if bad:
                return 1
    except (SchemaError, KeyError, ValueError) as e:
        print("%s: %s" % (a.schema, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
