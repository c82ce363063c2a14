// How an auth method that calls out (jwt, kubernetes) is handed its outbound client: a ready
// one (tests; a shared client) or the options to make one (an operator's allow-list).
import { createOutbound, type Outbound, type OutboundOptions } from '../../shared/outbound.js';

function isOutbound(value: Outbound | OutboundOptions): value is Outbound {
  return typeof (value as Outbound).request === 'function';
}

/** The client itself, or a new one from the options (the defaults when none are given). */
export function outboundFrom(option: Outbound | OutboundOptions | undefined): Outbound {
  return option !== undefined && isOutbound(option) ? option : createOutbound(option ?? {});
}
