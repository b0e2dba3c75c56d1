#!/usr/bin/env python3
"""Writes schema.rs: the protobuf field tables for the Kubernetes kinds bosun's cluster serves.

Input: the FileDescriptorProtos that go-to-protobuf/gogo embed (gzipped) in kubectl v1.32 (the
last kubectl that still registers them). They carry the gogoproto options that say which Go
fields are pointers (nullable) and which are embedded (`json:",inline"`), which the published
.proto files have stripped. Fields added to the APIs after v1.32 are listed in ADDED below,
read from the current generated.proto files in kubernetes/kubernetes.
"""
import re
import sys
import zlib


# --- Reading the descriptors: a minimal protobuf wire reader, enough for descriptor.proto. ---

def varint(b, i):
    result, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i


def fields(b):
    """[(number, wire type, value)]: value is an int for varints, bytes otherwise."""
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            value, i = b[i:i + n], i + n
        elif wire == 1:
            value, i = b[i:i + 8], i + 8
        elif wire == 5:
            value, i = b[i:i + 4], i + 4
        else:
            raise ValueError('wire type %d' % wire)
        out.append((number, wire, value))
    return out


def files(binary):
    """The gzipped FileDescriptorProtos of k8s generated.proto files found in a Go binary."""
    data = open(binary, 'rb').read()
    found = {}
    for m in re.finditer(b'\x1f\x8b\x08', data):
        try:
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 400000])
        except zlib.error:
            continue
        # FileDescriptorProto.name (field 1) comes first.
        if out[:1] == b'\x0a' and b'generated.proto' in out[:200]:
            found[out[2:2 + out[1]].decode()] = out
    return found


def options(b):
    return [(n, w, v.hex() if isinstance(v, bytes) else v) for n, w, v in fields(b)]


def message(b):
    """DescriptorProto: name 1, field 2, nested_type 3, options 7."""
    d = {'fields': [], 'nested': [], 'opts': None}
    for num, _, v in fields(b):
        if num == 1:
            d['name'] = v.decode()
        elif num == 2:
            # FieldDescriptorProto: name 1, number 3, label 4, type 5, type_name 6, options 8,
            # json_name 10. Options hold the gogoproto extensions: 65001 nullable, 65004 customname.
            f = {}
            keys = {1: 'name', 3: 'number', 4: 'label', 5: 'type', 6: 'type_name', 10: 'json_name'}
            for n2, _, v2 in fields(v):
                if n2 in keys:
                    f[keys[n2]] = v2.decode() if isinstance(v2, bytes) else v2
                elif n2 == 8:
                    f['opts'] = options(v2)
            d['fields'].append(f)
        elif num == 3:
            d['nested'].append(message(v))
        elif num == 7:
            d['opts'] = options(v)
    return d


def parse(b):
    """FileDescriptorProto: package 2, message_type 4."""
    fd = {'messages': []}
    for num, _, v in fields(b):
        if num == 2:
            fd['package'] = v.decode()
        elif num == 4:
            fd['messages'].append(message(v))
    return fd


# --- The schema. ---

ROOTS = {
    'k8s.io.api.core.v1': 'Namespace ConfigMap Secret Service ServiceAccount Pod Endpoints Event PersistentVolumeClaim Node',
    'k8s.io.api.apps.v1': 'Deployment ReplicaSet StatefulSet DaemonSet ControllerRevision',
    'k8s.io.api.batch.v1': 'Job CronJob',
    'k8s.io.api.networking.v1': 'Ingress',
    'k8s.io.api.autoscaling.v1': 'Scale',
    'k8s.io.api.autoscaling.v2': 'HorizontalPodAutoscaler',
    'k8s.io.api.policy.v1': 'PodDisruptionBudget',
    'k8s.io.api.rbac.v1': 'Role RoleBinding ClusterRole ClusterRoleBinding',
    'k8s.io.api.coordination.v1': 'Lease',
    'k8s.io.apimachinery.pkg.apis.meta.v1': 'DeleteOptions',
}
GROUP_VERSION = {
    'k8s.io.api.core.v1': 'v1', 'k8s.io.api.apps.v1': 'apps/v1', 'k8s.io.api.batch.v1': 'batch/v1',
    'k8s.io.api.networking.v1': 'networking.k8s.io/v1', 'k8s.io.api.autoscaling.v1': 'autoscaling/v1',
    'k8s.io.api.autoscaling.v2': 'autoscaling/v2', 'k8s.io.api.policy.v1': 'policy/v1',
    'k8s.io.api.rbac.v1': 'rbac.authorization.k8s.io/v1', 'k8s.io.api.coordination.v1': 'coordination.k8s.io/v1',
    'k8s.io.apimachinery.pkg.apis.meta.v1': 'meta.k8s.io/v1',
}
META = '.k8s.io.apimachinery.pkg.apis.meta.v1.'
SPECIAL = {
    META + 'Time': 'Time', META + 'MicroTime': 'MicroTime', META + 'FieldsV1': 'FieldsV1',
    '.k8s.io.apimachinery.pkg.runtime.RawExtension': 'RawExtension',
    '.k8s.io.apimachinery.pkg.util.intstr.IntOrString': 'IntOrString',
    '.k8s.io.apimachinery.pkg.api.resource.Quantity': 'Quantity',
}
SCALAR = {9: 'Str', 12: 'Bytes', 8: 'Bool', 5: 'I32', 3: 'I64', 13: 'U32', 4: 'U64', 1: 'F64', 2: 'F32'}
CORE = '.k8s.io.api.core.v1.'
# (message, number, json, type, card): fields after v1.32, from the current generated.proto.
ADDED = [
    (CORE + 'Container', 25, 'restartPolicyRules', CORE + 'ContainerRestartRule', 'Repeated'),
    (CORE + 'EphemeralContainerCommon', 25, 'restartPolicyRules', CORE + 'ContainerRestartRule', 'Repeated'),
    (CORE + 'EnvVarSource', 5, 'fileKeyRef', CORE + 'FileKeySelector', 'Pointer'),
    (CORE + 'Lifecycle', 3, 'stopSignal', 9, 'Pointer'),
    (CORE + 'ContainerStatus', 15, 'stopSignal', 9, 'Pointer'),
    (CORE + 'ResourceHealth', 6, 'message', 9, 'Pointer'),
    ('.k8s.io.api.apps.v1.DeploymentSpec', 10, 'podReplacementPolicy', 9, 'Pointer'),
    ('.k8s.io.api.apps.v1.DeploymentStatus', 9, 'terminatingReplicas', 5, 'Pointer'),
    ('.k8s.io.api.apps.v1.ReplicaSetStatus', 7, 'terminatingReplicas', 5, 'Pointer'),
]
ADDED_MESSAGES = {
    CORE + 'ContainerRestartRule': [(1, 'action', 9, 'Value'), (2, 'exitCodes', CORE + 'ContainerRestartRuleOnExitCodes', 'Pointer')],
    CORE + 'ContainerRestartRuleOnExitCodes': [(1, 'operator', 9, 'Value'), (2, 'values', 5, 'Repeated')],
    CORE + 'FileKeySelector': [(1, 'volumeName', 9, 'Value'), (2, 'path', 9, 'Value'), (3, 'key', 9, 'Value'), (4, 'optional', 8, 'Pointer')],
}

# Embedded Go structs tagged `json:",inline"`: their fields appear in the parent's JSON object.
# The descriptors cannot tell them from other embedded structs (`metav1.ObjectMeta` embeds as
# "metadata"), so they are named here, from the Go types in k8s.io/api.
INLINE = {
    ('ConfigMapKeySelector', 'localObjectReference'), ('SecretKeySelector', 'localObjectReference'),
    ('ConfigMapEnvSource', 'localObjectReference'), ('SecretEnvSource', 'localObjectReference'),
    ('ConfigMapVolumeSource', 'localObjectReference'), ('ConfigMapProjection', 'localObjectReference'),
    ('SecretProjection', 'localObjectReference'), ('EphemeralContainer', 'ephemeralContainerCommon'),
    ('Probe', 'handler'), ('Volume', 'volumeSource'), ('IngressRule', 'ingressRuleValue'),
}

def load(binary):
    msgs = {}
    for f in files(binary).values():
        fd = parse(f)
        def add(m, prefix):
            msgs['.' + fd['package'] + '.' + prefix + m['name']] = m
            for n in m['nested']:
                add(n, prefix + m['name'] + '.')
        for m in fd['messages']:
            add(m, '')
    return msgs

def opt(f, num):
    for o in f.get('opts', []):
        if o[0] == num:
            return o[2]
    return None

def convert(msgs):
    """full name -> list of (number, json, type, card); type is a scalar code or a full name."""
    out = {}
    def is_map(t):
        return any(o[0] == 7 and o[2] == 1 for o in (msgs[t]['opts'] or []))
    def fields(t):
        res = []
        for f in msgs[t]['fields']:
            ty = f['type'] if f['type'] != 11 else f['type_name']
            nullable = opt(f, 65001) != 0
            if f['label'] == 3 and f['type'] == 11 and is_map(f['type_name']):
                value = [v for v in msgs[f['type_name']]['fields'] if v['number'] == 2][0]
                ty = value['type'] if value['type'] != 11 else value['type_name']
                card = 'Map'
            elif f['label'] == 3:
                card = 'Repeated'
            elif (t.rsplit('.', 1)[1], f['name']) in INLINE:
                card = 'Inline'
            else:
                card = 'Pointer' if nullable else 'Value'
            res.append((f['number'], f['json_name'], ty, card))
        return res
    stack = ['.' + pkg + '.' + k for pkg, ks in ROOTS.items() for k in ks.split()]
    while stack:
        t = stack.pop()
        if t in out or t in SPECIAL:
            continue
        fs = ADDED_MESSAGES[t] if t in ADDED_MESSAGES else fields(t)
        fs = fs + [(n, j, ty, c) for (m, n, j, ty, c) in ADDED if m == t]
        out[t] = sorted(fs)
        stack.extend(ty for _, _, ty, _ in fs if isinstance(ty, str))
    return out

def ident(full):
    short = full.replace('.k8s.io.api.', '').replace('.k8s.io.apimachinery.pkg.apis.', '')
    pkg, name = short.rsplit('.', 1)
    snake = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', '_', name).upper()
    return (pkg.replace('.', '_') + '_' + snake).upper()

def ty_expr(ty):
    if isinstance(ty, int):
        return 'Ty::' + SCALAR[ty]
    if ty in SPECIAL:
        return 'Ty::' + SPECIAL[ty]
    return 'Ty::Message(&%s)' % ident(ty)

def main(binary, dest):
    msgs = load(binary)
    table = convert(msgs)
    lines = [
        '//! Field tables for the protobuf messages of the kinds the cluster serves. Generated by',
        '//! `gen_schema.py KUBECTL_V1_32 schema.rs` in this directory: change the generator, not this file.',
        '//!',
        '//! Field numbers, JSON names, pointer-ness (gogoproto `nullable`) and embedding (`json:",inline"`)',
        '//! come from the FileDescriptorProtos embedded in kubectl v1.32 (generated from',
        '//! k8s.io/api and k8s.io/apimachinery `generated.proto`); fields added since v1.32 are listed',
        '//! in the generator, taken from the current `generated.proto` files of kubernetes/kubernetes.',
        '',
        'use super::{Card, Field, Message, Ty};',
        '',
        '/// `(apiVersion, kind)` of every top-level object a request body may carry.',
        'pub static KINDS: &[(&str, &str, &Message)] = &[',
    ]
    for pkg, ks in ROOTS.items():
        for k in ks.split():
            lines.append('    ("%s", "%s", &%s),' % (GROUP_VERSION[pkg], k, ident('.' + pkg + '.' + k)))
    lines.append('    ("v1", "DeleteOptions", &META_V1_DELETE_OPTIONS),')
    lines.append('];')
    for t in sorted(table, key=ident):
        lines.append('')
        lines.append('pub static %s: Message = Message {' % ident(t))
        lines.append('    name: "%s",' % t.rsplit('.', 1)[1])
        lines.append('    fields: &[')
        for n, j, ty, card in table[t]:
            lines.append('        Field { number: %d, json: "%s", ty: %s, card: Card::%s },' % (n, j, ty_expr(ty), card))
        lines.append('    ],')
        lines.append('};')
    open(dest, 'w').write('\n'.join(lines) + '\n')
    print(len(table), 'messages', sum(len(v) for v in table.values()), 'fields', file=sys.stderr)

if __name__ == '__main__':
    # usage: gen_schema.py KUBECTL_V1_32_BINARY schema.rs
    main(sys.argv[1], sys.argv[2])
