import { pino, type DestinationStream, type Logger } from "pino";

/**
 * The service log. Secrets are kept out by construction (no log call is given a token, key or field value), and
 * `redact` is the second line of defence should one ever be logged by accident.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "authorization",
  "token",
  "*.token",
  "api_key",
  "*.api_key",
  "value",
  "*.value",
  "integration_schema",
  "*.integration_schema",
  "body",
  "*.body",
];

export function createLogger(options: { level?: string; stream?: DestinationStream } = {}): Logger {
  const config = {
    level: options.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  return options.stream ? pino(config, options.stream) : pino(config);
}
