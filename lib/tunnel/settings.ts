/**
 * The tunnel settings moved to lib/config (lib/config/tunnel.ts), next to every other setting;
 * re-exported here so existing importers keep working. New code imports lib/config.
 */
export { TUNNEL_ENV, tunnelSettingsFromEnv } from '../config/tunnel.ts';
