/**
 * @module cli/commands/serve
 * `kftpd serve`: loads the config, applies the quick-start default when no users file is
 * configured, starts the server and drains it on SIGTERM/SIGINT. Signal handling lives
 * here, in the CLI, never in the library.
 */
import { mkdir } from 'node:fs/promises';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/errors.js';
import { flagOverrides } from '../../config/sources.js';
import { createLogger } from '../../observability/logger.js';
import { FtpServer } from '../../server.js';
import { ensureQuickstartUser, quickstartBanner, type BannerSftp, type BannerTls } from '../quickstart.js';
import type { CliIo } from '../io.js';

export const SERVE_USAGE = [
  'usage: kftpd serve [--config <file> | -c <file>] [--<setting>=<value> ...]',
  '       kftpd [--config <file>] [--<setting>=<value> ...]     (serve is the default command)',
  '',
  'Starts the server. The configuration is loaded as check-config loads it: defaults < file',
  '(--config, or KFTPD_CONFIG) < KFTPD_* environment < flags, e.g. --listen.port=2121',
  '--passive.portMin=50000; docs/configuration.md lists every setting.',
  '',
  'With no users file configured (users.file), a quick-start user is created in stateDir',
  '(./.kftpd), ./data is served on 127.0.0.1:2121 (FTP) and 127.0.0.1:2222 (SFTP, unless\nsftp.enabled is set) and how to log in is printed on stderr.',
  'SIGTERM or SIGINT drains the server (shutdown.* settings); a second signal exits at once.',
  '',
  'Exit codes: 0 stopped after a drain, 1 could not start or close failed, 2 invalid',
  'configuration or usage.',
].join('\n');

export async function runServe(args: string[], io: CliIo): Promise<number> {
  const { configFile, rest } = takeConfigFlag(args);
  const extra = flagOverrides(rest).rest;
  if (extra.length > 0) {
    io.stderr(`kftpd serve: unexpected argument ${extra[0]}\n`);
    return 2;
  }
  let loaded;
  try {
    loaded = await loadConfig({ ...(configFile ? { file: configFile } : {}), env: io.env, args: rest });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  let config = loaded.config;
  const logger = createLogger({ level: config.log.level });
  // A stray rejection (a bug) is logged with its stack instead of taking every session down.
  process.on('unhandledRejection', (reason) => logger.error({ event: 'process.unhandled-rejection', err: reason }, 'unhandled promise rejection'));
  await mkdir(config.storage.root, { recursive: true });
  let banner: ((port: number, tls: BannerTls | null, sftp: BannerSftp | null) => string) | null = null;
  if (config.users.file === '') {
    const quick = await ensureQuickstartUser(config.stateDir);
    // The quick start serves SFTP too (on 2222), unless sftp.enabled was set explicitly.
    const sftpChosen = rest.some((a) => a.startsWith('--sftp.enabled')) || io.env.KFTPD_SFTP_ENABLED !== undefined || configFile !== undefined;
    config = { ...config, users: { ...config.users, file: quick.usersFile }, ...(sftpChosen ? {} : { sftp: { ...config.sftp, enabled: true } }) };
    banner = (port, tls, sftp) => quickstartBanner(quick, config.listen.host, port, config.storage.root, tls, sftp);
  }
  let server: FtpServer;
  try {
    server = new FtpServer(config, { logger });
    await server.start();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    io.stderr(`kftpd: cannot start: ${e.code ? `${e.code} ` : ''}${e.message}\n`);
    return 1;
  }
  if (banner) {
    const sftp = server.sftpAddress();
    io.stderr(banner(server.address().port, server.selfSigned, sftp ? { port: sftp.port, fingerprints: server.hostKeys.map((k) => `${k.type} ${k.fingerprint}`) } : null));
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ event: 'server.forced', signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ event: 'server.signal', signal }, 'shutting down');
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ event: 'server.close-failed', err: error }, 'close failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** Takes `--config FILE`, `-c FILE` or `--config=FILE` out of the arguments. */
export function takeConfigFlag(args: readonly string[]): { configFile?: string; rest: string[] } {
  const rest: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--config' || arg === '-c') configFile = args[++i];
    else if (arg.startsWith('--config=')) configFile = arg.slice('--config='.length);
    else rest.push(arg);
  }
  return configFile === undefined ? { rest } : { configFile, rest };
}
