// The build files shipped inside every test sdist (see distributions.ts): a stdlib-only,
// in-tree PEP 517 backend so a modern pip can build the sdist from an index that holds
// nothing else, and a setup.py for pips that predate PEP 517.

/** Module name of the in-tree backend; pyproject.toml points `build-backend` at it. */
export const BACKEND_MODULE = '_eggserve_backend'

/**
 * pyproject.toml for the sdist. PEP 518: `requires = []`, so a build-isolated pip installs
 * nothing before building. PEP 517: `backend-path` puts the sdist root on sys.path, where
 * the backend module lives (pip >= 20.0 honours backend-path).
 */
export const PYPROJECT_TOML = `# Built by eggserve's test helpers. The build backend is the stdlib-only module next to
# this file (PEP 517 in-tree backend), so building needs nothing from a package index.
[build-system]
requires = []
build-backend = "${BACKEND_MODULE}"
backend-path = ["."]
`

/**
 * Source of the in-tree backend. Generic on purpose: it reads name and version from the
 * sdist's PKG-INFO and packages every top-level directory holding an `__init__.py`, so one
 * file serves every test project. Written in the common subset of Python 2.7 and 3.
 */
export const BACKEND_SOURCE = String.raw`"""Minimal in-tree PEP 517 build backend (written by eggserve's test helpers).

Only the standard library is used, so pip needs no setuptools or wheel to build this
project. The metadata comes from PKG-INFO, which becomes the wheel's METADATA unchanged
(both use the core metadata format).
"""

import base64
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import zipfile

_SKIP_DIRS = ('build', 'dist', '__pycache__')


def _pkg_info():
    # PEP 517: hooks run with the working directory at the root of the source tree.
    with open('PKG-INFO', 'rb') as f:
        return f.read()


def _field(pkg_info, name):
    for line in pkg_info.decode('utf-8').splitlines():
        if not line:
            break  # the headers end at the first blank line; the description follows
        key, sep, value = line.partition(':')
        if sep and key.strip().lower() == name.lower():
            return value.strip()
    raise ValueError('PKG-INFO has no %s field' % name)


def _escaped_name(pkg_info):
    # Binary distribution format (PEP 427, PEP 491): runs of -_. become one underscore.
    return re.sub(r'[-_.]+', '_', _field(pkg_info, 'Name')).lower()


def _escaped_version(pkg_info):
    return _field(pkg_info, 'Version').replace('-', '_')


def _dist_info(pkg_info):
    return '%s-%s.dist-info' % (_escaped_name(pkg_info), _escaped_version(pkg_info))


def _tag():
    return 'py%d-none-any' % sys.version_info[0]


def _wheel_file():
    return ('Wheel-Version: 1.0\nGenerator: eggserve-test-backend\n'
            'Root-Is-Purelib: true\nTag: %s\n' % _tag()).encode('ascii')


def _epoch():
    # reproducible-builds.org convention; zip cannot store dates before 1980.
    return max(int(os.environ.get('SOURCE_DATE_EPOCH') or 1580601600), 315532800)


def _packages():
    return sorted(name for name in os.listdir('.')
                  if os.path.isfile(os.path.join(name, '__init__.py')))


def _package_files():
    found = []
    for package in _packages():
        for root, dirs, files in os.walk(package):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for name in sorted(files):
                if not name.endswith(('.pyc', '.pyo')):
                    found.append(os.path.join(root, name).replace(os.sep, '/'))
    return found


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=')
    return 'sha256=' + digest.decode('ascii')


def _write_wheel(wheel_directory, members):
    """members: list of (archive path, bytes); adds RECORD and returns the file name."""
    pkg_info = _pkg_info()
    dist_info = _dist_info(pkg_info)
    members = members + [
        (dist_info + '/METADATA', pkg_info),
        (dist_info + '/WHEEL', _wheel_file()),
    ]
    record = ''.join('%s,%s,%d\n' % (path, _record_hash(data), len(data))
                     for path, data in members)
    members.append((dist_info + '/RECORD', (record + dist_info + '/RECORD,,\n').encode('utf-8')))
    filename = '%s-%s-%s.whl' % (_escaped_name(pkg_info), _escaped_version(pkg_info), _tag())
    date_time = time.gmtime(_epoch())[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), 'w', zipfile.ZIP_DEFLATED) as zf:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    pkg_info = _pkg_info()
    dist_info = _dist_info(pkg_info)
    os.mkdir(os.path.join(metadata_directory, dist_info))
    for name, data in (('METADATA', pkg_info), ('WHEEL', _wheel_file())):
        with open(os.path.join(metadata_directory, dist_info, name), 'wb') as f:
            f.write(data)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(path, _read(path)) for path in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # PEP 660: a .pth file that puts this source tree on sys.path.
    pth = (os.path.abspath('.') + '\n').encode(sys.getfilesystemencoding() or 'utf-8')
    return _write_wheel(wheel_directory, [('_%s_editable.pth' % _escaped_name(_pkg_info()), pth)])


def build_sdist(sdist_directory, config_settings=None):
    pkg_info = _pkg_info()
    # PEP 625: {normalized name}-{version}.tar.gz with a single {name}-{version}/ directory.
    base = '%s-%s' % (_escaped_name(pkg_info), _field(pkg_info, 'Version'))
    paths = []
    for root, dirs, files in os.walk('.'):
        dirs[:] = sorted(d for d in dirs
                         if d not in _SKIP_DIRS and not d.endswith('.egg-info') and not d.startswith('.'))
        for name in sorted(files):
            if not name.endswith(('.pyc', '.pyo')):
                paths.append(os.path.normpath(os.path.join(root, name)).replace(os.sep, '/'))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            data = _read(path)
            info = tarfile.TarInfo(base + '/' + path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _epoch()
            tar.addfile(info, io.BytesIO(data))
    filename = base + '.tar.gz'
    with open(os.path.join(sdist_directory, filename), 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0) as gz:
            gz.write(buf.getvalue())
    return filename
`

/** A Python string literal for `value`, valid in Python 2.7 and 3 (non-ASCII becomes escapes). */
export function pythonString(value: string): string {
  let body = ''
  let ascii = true
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0
    if (char === '\\' || char === "'") body += `\\${char}`
    else if (code >= 0x20 && code < 0x7f) body += char
    else if (code < 0x80) body += `\\x${code.toString(16).padStart(2, '0')}`
    else {
      ascii = false
      body += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
    }
  }
  // Python 2 only interprets \u escapes in unicode literals; u'' is valid again since 3.3.
  return `${ascii ? '' : 'u'}'${body}'`
}

/** What setup.py needs to know about the project. */
export interface SetupPyFields {
  name: string
  version: string
  summary?: string
  requiresPython?: string
  requiresDist?: readonly string[]
  module: string
}

/**
 * setup.py for pips that predate PEP 517 (or run with --no-use-pep517 / --no-build-isolation
 * against an environment that has setuptools). Falls back to distutils when setuptools is
 * missing; distutils warns about python_requires and install_requires but still installs.
 */
export function setupPy(fields: SetupPyFields): string {
  const args = [
    `name=${pythonString(fields.name)}`,
    `version=${pythonString(fields.version)}`,
    ...(fields.summary === undefined ? [] : [`description=${pythonString(fields.summary)}`]),
    `packages=[${pythonString(fields.module)}]`,
    ...(fields.requiresPython === undefined ? [] : [`python_requires=${pythonString(fields.requiresPython)}`]),
    ...(fields.requiresDist === undefined || fields.requiresDist.length === 0
      ? []
      : [`install_requires=[${fields.requiresDist.map(pythonString).join(', ')}]`]),
  ]
  return `# Legacy build script for pips without PEP 517 support; newer pips use the in-tree
# backend named in pyproject.toml instead.
try:
    from setuptools import setup
except ImportError:
    from distutils.core import setup

setup(
${args.map((arg) => `    ${arg},\n`).join('')})
`
}
