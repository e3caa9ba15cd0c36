/**
 * @module test/unit/protocol/virtual-path
 * Path resolution and confinement to "/", PWD quoting (RFC 959 Appendix II), path helpers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  baseName,
  isWithin,
  joinPath,
  parentPath,
  quotePath,
  resolveVirtualPath,
} from '../../../src/protocol/virtual-path.js';

describe('resolveVirtualPath', () => {
  const cases: ReadonlyArray<[cwd: string, arg: string, expected: string | null]> = [
    ['/a', '../../b', '/b'],
    ['/a', '', '/a'],
    ['/', 'x//y/./z/', '/x/y/z'],
    ['/', '', '/'],
    ['/', '.', '/'],
    ['/', '..', '/'],
    ['/', '../../../../etc/passwd', '/etc/passwd'],
    ['/a/b', '..', '/a'],
    ['/a/b', '../..', '/'],
    ['/a/b', '../../..', '/'],
    ['/a/b', 'c', '/a/b/c'],
    ['/a/b', './c/../d', '/a/b/d'],
    ['/a/b', '/x', '/x'],
    ['/a/b', '//x//', '/x'],
    ['/a/b', '/', '/'],
    ['/a/b', '/..', '/'],
    ['/a', '..a', '/a/..a'],
    ['/a', 'a..', '/a/a..'],
    ['/a', '...', '/a/...'],
    ['/a', '.hidden', '/a/.hidden'],
    ['/a', '%2e%2e', '/a/%2e%2e'],
    ['/a', '..\\..\\b', '/a/..\\..\\b'],
    ['/a', '\\', '/a/\\'],
    ['/a', 'C:\\x', '/a/C:\\x'],
    ['/a', '~', '/a/~'],
    ['/a', 'my file.txt', '/a/my file.txt'],
    ['/a', ' lead', '/a/ lead'],
    ['/a', 'trail ', '/a/trail '],
    ['/a', '-rf', '/a/-rf'],
    ['/a', '日本/📁', '/a/日本/📁'],
    ['/a', 'line\nbreak', '/a/line\nbreak'],
    // cwd is normalised too, even if a caller passes something unusual.
    ['', 'x', '/x'],
    ['a/b', 'c', '/a/b/c'],
    ['/a/../..', 'b', '/b'],
    ['/a//b/', '', '/a/b'],
    ['/a', 'x\0y', null],
    ['/a', '\0', null],
    ['/a\0', 'x', null],
  ];
  for (const [cwd, arg, expected] of cases) {
    it(`${JSON.stringify(cwd)} + ${JSON.stringify(arg)}`, () => {
      assert.equal(resolveVirtualPath(cwd, arg), expected);
    });
  }

  const segment = fc.constantFrom('..', '.', '', 'a', 'b c', '%2e%2e', '%2f', '\\', '..\\', '/', '//', '~', 'é', '日本', '📁', '...', '. .');
  const pathish = fc.array(segment, { maxLength: 12 }).map((parts) => parts.join('/'));
  const anyPath = fc.oneof(pathish, pathish.map((p) => `/${p}`), fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')));

  it('property: result is absolute, normalised and a fixed point', () => {
    fc.assert(
      fc.property(anyPath, anyPath, (cwd, arg) => {
        const out = resolveVirtualPath(cwd, arg);
        assert.ok(out !== null);
        assert.ok(out.startsWith('/'), out);
        assert.ok(!out.includes('//'), out);
        assert.ok(out === '/' || !out.endsWith('/'), out);
        const segments = out.split('/').slice(1);
        assert.ok(!segments.includes('.') && !segments.includes('..'), out);
        assert.equal(resolveVirtualPath('/', out), out);
        assert.equal(resolveVirtualPath(out, ''), out);
        assert.equal(resolveVirtualPath(out, '.'), out);
        assert.ok(isWithin('/', out));
      }),
      { seed: 1234, numRuns: 500 },
    );
  });

  it('property: a relative argument never leaves cwd unless it uses ".."', () => {
    fc.assert(
      fc.property(anyPath, pathish, (cwd, arg) => {
        fc.pre(!arg.startsWith('/') && !arg.split('/').includes('..'));
        const base = resolveVirtualPath('/', cwd) ?? '/';
        const out = resolveVirtualPath(cwd, arg);
        assert.ok(out !== null && isWithin(base, out), `${cwd} + ${arg} -> ${String(out)}`);
      }),
      { seed: 99, numRuns: 300 },
    );
  });

  it('property: any path containing NUL is rejected', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (pre, post) => {
        assert.equal(resolveVirtualPath('/', `${pre}\0${post}`), null);
      }),
      { seed: 8, numRuns: 100 },
    );
  });
});

describe('quotePath', () => {
  const cases: ReadonlyArray<[string, string]> = [
    ['/', '"/"'],
    ['/a b', '"/a b"'],
    ['/a"b', '"/a""b"'],
    ['/"', '"/"""'],
    ['/""x""', '"/""""x"""""'],
    ['/日本', '"/日本"'],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.equal(quotePath(input), expected));
  }
});

describe('baseName / parentPath / joinPath', () => {
  const cases: ReadonlyArray<[path: string, base: string, parent: string]> = [
    ['/', '', '/'],
    ['/a', 'a', '/'],
    ['/a/b', 'b', '/a'],
    ['/a/b/c.txt', 'c.txt', '/a/b'],
    ['/a b/c d', 'c d', '/a b'],
    ['/a\\b', 'a\\b', '/'],
    ['/a/b/', 'b', '/a'],
  ];
  for (const [path, base, parent] of cases) {
    it(path, () => {
      assert.equal(baseName(path), base);
      assert.equal(parentPath(path), parent);
    });
  }

  const joins: ReadonlyArray<[string, string, string]> = [
    ['/', 'a', '/a'],
    ['/d', 'a', '/d/a'],
    ['/d/', 'a', '/d/a'],
    ['/d', 'a b', '/d/a b'],
    ['/d', '', '/d'],
  ];
  for (const [dir, name, expected] of joins) {
    it(`joinPath(${dir}, ${name})`, () => assert.equal(joinPath(dir, name), expected));
  }

  it('property: joinPath(parentPath(p), baseName(p)) === p for normalised non-root paths', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b c', 'é', '\\', '...', '%2e'), { minLength: 1, maxLength: 6 }), (parts) => {
        const p = `/${parts.join('/')}`;
        assert.equal(joinPath(parentPath(p), baseName(p)), p);
      }),
      { seed: 21, numRuns: 100 },
    );
  });
});

describe('isWithin', () => {
  const cases: ReadonlyArray<[root: string, path: string, expected: boolean]> = [
    ['/', '/', true],
    ['/', '/a/b', true],
    ['/home/alice', '/home/alice', true],
    ['/home/alice', '/home/alice/x', true],
    ['/home/alice', '/home/alice/x/y', true],
    ['/home/alice', '/home/alicex', false],
    ['/home/alice', '/home/al', false],
    ['/home/alice', '/home', false],
    ['/home/alice', '/', false],
    ['/home/alice', '/home/bob', false],
    ['/home/alice', '/home/alice/../bob', false],
    ['/home/alice/', '/home/alice', true],
    ['/a', '/a\0', false],
  ];
  for (const [root, path, expected] of cases) {
    it(`${root} ⊇ ${JSON.stringify(path)}`, () => assert.equal(isWithin(root, path), expected));
  }
});
