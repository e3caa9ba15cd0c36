/**
 * @module observability/logger
 * The pino logger: JSON lines on stdout, one child per session ({session, remote, user}).
 * PASS arguments never reach it (the session redacts them); `redact` is a second belt.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type { PinoLogger };

export function createLogger(options: { level: string; destination?: DestinationStream }): PinoLogger {
  return pino(
    {
      level: options.level,
      base: { service: 'kftpd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', '*.password', 'pass'], censor: '***' },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
