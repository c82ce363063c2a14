// Opens the driver for a connection's settings: the one place that knows every driver.
import {
  DEFAULT_DRIVER_OPTIONS,
  type DatabaseDriver,
  type DriverOptions,
  type DriverSettings,
} from './driver.js';
import { createMysqlDriver } from './driver-mysql.js';
import { createPostgresDriver } from './driver-postgres.js';
import { createRedisDriver } from './driver-redis.js';

/** A driver over a lazily connected pool: nothing connects until it is used. */
export function openDriver(
  settings: DriverSettings,
  options: DriverOptions = DEFAULT_DRIVER_OPTIONS,
): DatabaseDriver {
  switch (settings.kind) {
    case 'postgres':
      return createPostgresDriver(settings, options);
    case 'mysql':
      return createMysqlDriver(settings, options);
    case 'redis':
      return createRedisDriver(settings, options);
  }
}
