/**
 * @module test/unit/protocol/listing
 * LIST lines, MLSx fact lines (RFC 3659 §7), FEAT/OPTS MLST and time-vals (RFC 3659 §2.3).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Permission } from '../../../src/core/permissions.js';
import {
  MLST_FACTS,
  formatListLine,
  formatMlstFeat,
  formatMlsxLine,
  formatTimeVal,
  parseMlstOpts,
  parseTimeVal,
} from '../../../src/protocol/listing.js';
import type { MlstFact } from '../../../src/protocol/listing.js';
import type { Entry } from '../../../src/storage/types.js';

const NOW = new Date('2024-06-15T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

function entry(over: Partial<Entry> & Pick<Entry, 'name'>): Entry {
  return { type: 'file', size: 0, modifiedAt: new Date('2024-03-05T14:03:12Z'), ...over };
}

describe('formatListLine', () => {
  const cases: ReadonlyArray<{ name: string; entry: Entry; options?: { owner?: string; group?: string }; expected: string }> = [
    {
      name: 'recent file, default mode and owner',
      entry: entry({ name: 'a.txt', size: 1234 }),
      expected: '-rw-r--r-- 1 ftp ftp     1234 Mar 05 14:03 a.txt',
    },
    {
      name: 'old file shows the year',
      entry: entry({ name: 'old.txt', size: 1, modifiedAt: new Date('2023-03-05T14:03:00Z') }),
      expected: '-rw-r--r-- 1 ftp ftp        1 Mar 05  2023 old.txt',
    },
    {
      name: 'directory with default mode',
      entry: entry({ name: 'docs', type: 'directory' }),
      expected: 'drwxr-xr-x 1 ftp ftp        0 Mar 05 14:03 docs',
    },
    {
      name: 'symlink',
      entry: entry({ name: 'link', type: 'symlink', size: 7 }),
      expected: 'lrwxrwxrwx 1 ftp ftp        7 Mar 05 14:03 link',
    },
    {
      name: 'other type shows as a plain file',
      entry: entry({ name: 'fifo', type: 'other', mode: 0o600 }),
      expected: '-rw------- 1 ftp ftp        0 Mar 05 14:03 fifo',
    },
    {
      name: 'explicit mode and owner/group',
      entry: entry({ name: 'run.sh', mode: 0o750, size: 42 }),
      options: { owner: 'alice', group: 'staff' },
      expected: '-rwxr-x--- 1 alice staff       42 Mar 05 14:03 run.sh',
    },
    {
      name: 'file type bits in mode are ignored',
      entry: entry({ name: 'f', mode: 0o100644 }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Mar 05 14:03 f',
    },
    {
      name: 'setuid/setgid/sticky',
      entry: entry({ name: 'tmp', type: 'directory', mode: 0o7755 }),
      expected: 'drwsr-sr-t 1 ftp ftp        0 Mar 05 14:03 tmp',
    },
    {
      name: 'setuid/setgid/sticky without execute',
      entry: entry({ name: 'odd', mode: 0o7644 }),
      expected: '-rwSr-Sr-T 1 ftp ftp        0 Mar 05 14:03 odd',
    },
    {
      name: 'size beyond 4 GiB prints exactly',
      entry: entry({ name: 'big.iso', size: 2 ** 32 + 1 }),
      expected: '-rw-r--r-- 1 ftp ftp 4294967297 Mar 05 14:03 big.iso',
    },
    {
      name: 'size near 2^53 prints exactly',
      entry: entry({ name: 'huge', size: 2 ** 53 - 1 }),
      expected: '-rw-r--r-- 1 ftp ftp 9007199254740991 Mar 05 14:03 huge',
    },
    {
      name: 'name with spaces and UTF-8 kept',
      entry: entry({ name: ' my file 日本.txt' }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Mar 05 14:03  my file 日本.txt',
    },
    {
      name: 'CR/LF in a name cannot split the listing line',
      entry: entry({ name: 'a\r\n-rw-r--r-- fake' }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Mar 05 14:03 a  -rw-r--r-- fake',
    },
    {
      name: 'uses UTC, single-digit day zero-padded',
      entry: entry({ name: 'utc', modifiedAt: new Date('2024-01-01T00:05:00+02:00') }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Dec 31 22:05 utc',
    },
    {
      name: '179 days ago is recent',
      entry: entry({ name: 'r', modifiedAt: new Date(NOW.getTime() - 179 * DAY) }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Dec 19 12:00 r',
    },
    {
      name: '181 days ago shows the year',
      entry: entry({ name: 'o', modifiedAt: new Date(NOW.getTime() - 181 * DAY) }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Dec 17  2023 o',
    },
    {
      name: 'slightly in the future (clock skew) is recent',
      entry: entry({ name: 'f', modifiedAt: new Date(NOW.getTime() + 60_000) }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Jun 15 12:01 f',
    },
    {
      name: 'far future shows the year',
      entry: entry({ name: 'f', modifiedAt: new Date('2030-02-01T00:00:00Z') }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Feb 01  2030 f',
    },
    {
      name: 'invalid date falls back to the epoch instead of throwing',
      entry: entry({ name: 'bad', modifiedAt: new Date(Number.NaN) }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Jan 01  1970 bad',
    },
    {
      name: 'negative size shows as 0',
      entry: entry({ name: 'neg', size: -5 }),
      expected: '-rw-r--r-- 1 ftp ftp        0 Mar 05 14:03 neg',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(formatListLine(c.entry, NOW, c.options), c.expected));
  }
});

const ALL: ReadonlySet<Permission> = new Set<Permission>([
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
]);
const ALL_FACTS: ReadonlySet<MlstFact> = new Set(MLST_FACTS);

describe('formatMlsxLine', () => {
  const file = entry({ name: 'a.txt', size: 12, mode: 0o644, uniqueId: '801g1a' });
  const dir = entry({ name: 'd', type: 'directory', mode: 0o755 });
  const cases: ReadonlyArray<{
    name: string;
    entry: Entry;
    entryName?: string;
    facts?: ReadonlySet<MlstFact>;
    perms?: ReadonlySet<Permission>;
    override?: 'cdir' | 'pdir';
    expected: string;
  }> = [
    {
      name: 'file, all facts, all permissions',
      entry: file,
      expected: 'type=file;size=12;modify=20240305140312;perm=rwadf;unique=801g1a;unix.mode=0644; a.txt',
    },
    {
      name: 'directory, all facts: no size, directory perms',
      entry: dir,
      expected: 'type=dir;modify=20240305140312;perm=elcmpdf;unix.mode=0755; d',
    },
    {
      name: 'cdir override',
      entry: dir,
      entryName: '/pub',
      override: 'cdir',
      expected: 'type=cdir;modify=20240305140312;perm=elcmpdf;unix.mode=0755; /pub',
    },
    {
      name: 'pdir override',
      entry: dir,
      entryName: '..',
      facts: new Set<MlstFact>(['type']),
      override: 'pdir',
      expected: 'type=pdir; ..',
    },
    {
      name: 'override on a file entry still treated as a directory',
      entry: file,
      entryName: '.',
      facts: new Set<MlstFact>(['type', 'size', 'perm']),
      perms: new Set<Permission>(['list']),
      override: 'cdir',
      expected: 'type=cdir;perm=el; .',
    },
    {
      name: 'read-only file',
      entry: file,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(['list', 'download']),
      expected: 'perm=r; a.txt',
    },
    {
      name: 'overwrite without upload gives w only',
      entry: file,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(['overwrite']),
      expected: 'perm=w; a.txt',
    },
    {
      name: 'upload gives w and a',
      entry: file,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(['upload']),
      expected: 'perm=wa; a.txt',
    },
    {
      name: 'delete + rename on a file',
      entry: file,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(['delete', 'rename']),
      expected: 'perm=df; a.txt',
    },
    {
      name: 'no permissions on a file: empty perm',
      entry: file,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(),
      expected: 'perm=; a.txt',
    },
    {
      name: 'directory with no permissions: e only',
      entry: dir,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(),
      expected: 'perm=e; d',
    },
    {
      name: 'directory: each permission maps to its letter',
      entry: dir,
      facts: new Set<MlstFact>(['perm']),
      perms: new Set<Permission>(['upload', 'rmdir']),
      expected: 'perm=ecd; d',
    },
    {
      name: 'facts printed in MLST_FACTS order regardless of set order',
      entry: file,
      facts: new Set<MlstFact>(['unix.mode', 'size', 'type']),
      expected: 'type=file;size=12;unix.mode=0644; a.txt',
    },
    {
      name: 'no facts: a single space then the name',
      entry: file,
      facts: new Set<MlstFact>(),
      expected: ' a.txt',
    },
    {
      name: 'unique and unix.mode omitted when the entry lacks them',
      entry: entry({ name: 'plain', size: 3 }),
      expected: 'type=file;size=3;modify=20240305140312;perm=rwadf; plain',
    },
    {
      name: 'unique that cannot be a fact value is omitted',
      entry: entry({ name: 'x', uniqueId: 'a;b' }),
      facts: new Set<MlstFact>(['unique']),
      expected: ' x',
    },
    {
      name: 'special mode bits in unix.mode',
      entry: entry({ name: 'tmp', type: 'directory', mode: 0o41777 }),
      facts: new Set<MlstFact>(['unix.mode']),
      expected: 'unix.mode=1777; tmp',
    },
    {
      name: 'size beyond 4 GiB exact',
      entry: entry({ name: 'big', size: 5 * 2 ** 30 }),
      facts: new Set<MlstFact>(['size']),
      expected: 'size=5368709120; big',
    },
    {
      name: 'symlink and other types use OS.unix= values',
      entry: entry({ name: 'l', type: 'symlink', size: 4 }),
      facts: new Set<MlstFact>(['type', 'size']),
      expected: 'type=OS.unix=symlink;size=4; l',
    },
    {
      name: 'other type',
      entry: entry({ name: 'p', type: 'other' }),
      facts: new Set<MlstFact>(['type']),
      expected: 'type=OS.unix=other; p',
    },
    {
      name: 'invalid modify date omitted',
      entry: entry({ name: 'x', modifiedAt: new Date(Number.NaN) }),
      facts: new Set<MlstFact>(['modify']),
      expected: ' x',
    },
    {
      name: 'name with spaces, semicolons and equals kept; CR/LF neutralised',
      entry: file,
      entryName: 'a; b=c\r\nd',
      facts: new Set<MlstFact>(['type']),
      expected: 'type=file; a; b=c  d',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const options = c.override ? { typeOverride: c.override } : undefined;
      assert.equal(
        formatMlsxLine(c.entry, c.entryName ?? c.entry.name, c.facts ?? ALL_FACTS, c.perms ?? ALL, options),
        c.expected,
      );
    });
  }
});

describe('formatMlstFeat / parseMlstOpts', () => {
  it('marks enabled facts with *', () => {
    assert.equal(formatMlstFeat(ALL_FACTS), 'type*;size*;modify*;perm*;unique*;unix.mode*;');
    assert.equal(
      formatMlstFeat(new Set<MlstFact>(['type', 'size', 'modify', 'perm', 'unique'])),
      'type*;size*;modify*;perm*;unique*;unix.mode;',
    );
    assert.equal(formatMlstFeat(new Set()), 'type;size;modify;perm;unique;unix.mode;');
    assert.equal(formatMlstFeat(new Set<MlstFact>(['unix.mode', 'type'])), 'type*;size;modify;perm;unique;unix.mode*;');
  });

  const cases: ReadonlyArray<[string, MlstFact[]]> = [
    ['', []],
    [';', []],
    ['type;size;', ['type', 'size']],
    ['type;size', ['type', 'size']],
    ['TYPE;Size;MODIFY;', ['type', 'size', 'modify']],
    ['unix.mode;UNIX.MODE;', ['unix.mode']],
    ['type;bogus;media-type;perm;', ['type', 'perm']],
    [' type ; perm ;', ['type', 'perm']],
    ['type;;size;;', ['type', 'size']],
    ['unix.group;unix.owner;charset;lang', []],
  ];
  for (const [input, expected] of cases) {
    it(`parseMlstOpts(${JSON.stringify(input)})`, () => {
      assert.deepEqual([...parseMlstOpts(input)].sort(), [...expected].sort());
    });
  }

  it('round-trips: the FEAT list of enabled facts parses back to the same set', () => {
    fc.assert(
      fc.property(fc.subarray([...MLST_FACTS]), (facts) => {
        const enabled = new Set<MlstFact>(facts);
        const starred = formatMlstFeat(enabled)
          .split(';')
          .filter((f) => f.endsWith('*'))
          .map((f) => f.slice(0, -1))
          .join(';');
        assert.deepEqual(parseMlstOpts(starred), enabled);
      }),
      { seed: 11, numRuns: 64 },
    );
  });
});

describe('formatTimeVal / parseTimeVal', () => {
  const formatCases: ReadonlyArray<[string, string]> = [
    ['2024-03-05T14:03:12Z', '20240305140312'],
    ['2024-03-05T14:03:12.999Z', '20240305140312'],
    ['1970-01-01T00:00:00Z', '19700101000000'],
    ['2000-02-29T23:59:59Z', '20000229235959'],
    ['2024-01-01T00:05:00+02:00', '20231231220500'],
  ];
  for (const [iso, expected] of formatCases) {
    it(`formatTimeVal(${iso})`, () => assert.equal(formatTimeVal(new Date(iso)), expected));
  }
  it('formatTimeVal pads years below 1000', () => {
    const d = new Date(0);
    d.setUTCFullYear(99, 0, 2);
    assert.equal(formatTimeVal(d), '00990102000000');
  });
  it('formatTimeVal throws on an invalid date', () => {
    assert.throws(() => formatTimeVal(new Date(Number.NaN)), RangeError);
  });

  const parseCases: ReadonlyArray<[string, string | null]> = [
    ['20240305140312', '2024-03-05T14:03:12.000Z'],
    ['20240305140312.5', '2024-03-05T14:03:12.500Z'],
    ['20240305140312.123', '2024-03-05T14:03:12.123Z'],
    ['20240305140312.123456', '2024-03-05T14:03:12.123Z'],
    ['20000229000000', '2000-02-29T00:00:00.000Z'],
    ['20240229235959', '2024-02-29T23:59:59.000Z'],
    ['19991231235960', '2000-01-01T00:00:00.000Z'],
    ['20241231000000', '2024-12-31T00:00:00.000Z'],
    ['00500101000000', '0050-01-01T00:00:00.000Z'],
    ['19000228000000', '1900-02-28T00:00:00.000Z'],
    ['19000229000000', null],
    ['20230229000000', null],
    ['20240431000000', null],
    ['20240001000000', null],
    ['20241301000000', null],
    ['20240100000000', null],
    ['20240132000000', null],
    ['20240101240000', null],
    ['20240101236000', null],
    ['20240101235961', null],
    ['', null],
    ['2024030514031', null],
    ['202403051403120', null],
    ['20240305140312.', null],
    ['20240305140312Z', null],
    [' 20240305140312', null],
    ['20240305140312 ', null],
    ['2024-03-05 14:03', null],
    ['+2024030514031', null],
    ['2024030514031x', null],
    ['２0240305140312', null],
  ];
  for (const [input, expected] of parseCases) {
    it(`parseTimeVal(${JSON.stringify(input)})`, () => {
      const parsed = parseTimeVal(input);
      assert.equal(parsed === null ? null : parsed.toISOString(), expected);
    });
  }

  it('property: parseTimeVal(formatTimeVal(d)) equals d truncated to seconds', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        (d) => {
          const back = parseTimeVal(formatTimeVal(d));
          assert.equal(back?.getTime(), Math.floor(d.getTime() / 1000) * 1000);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});
