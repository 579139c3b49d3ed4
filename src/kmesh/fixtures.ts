// Kmesh's workload maps and log, as a test writes and reads them: typed entries in, typed records out.
import type { Harness } from '../mock/harness';
import {
  BackendValue, decodeLogEvent, encodeBackendKey, encodeBackendValue, encodeEndpointKey, encodeEndpointValue,
  encodeFrontendKey, encodeFrontendValue, encodeManagerKey, encodeServiceKey, encodeServiceValue, Init, ip4, ip6,
  ServiceValue,
} from '../structs';

/** An IPv4 ("10.0.0.1") or IPv6 ("fd00::1") address as Kmesh stores it in struct ip_addr. */
export function ipAddr(address: string): { ip4: number } | { ip6: [number, number, number, number] } {
  return address.includes(':') ? { ip6: ip6(address) as [number, number, number, number] } : { ip4: ip4(address) };
}

export interface LogLine {
  /** "ERR", "WARN", "INFO" or "DEBUG". */
  level: string;
  tag: string;
  text: string;
  /** bpf_snprintf's result for the line. */
  ret: number;
}

export class KmeshMaps {
  constructor(private readonly h: Harness) {}

  /** km_manage[netns cookie] = 0: Kmesh manages this network namespace. */
  manage(cookie: bigint | number): void {
    this.h.map('km_manage').update(encodeManagerKey({ netns_cookie: BigInt(cookie) }), Buffer.alloc(4));
  }

  /** The km_manage value for a cookie, or undefined when there is no entry. */
  managed(cookie: bigint | number): number | undefined {
    return this.h.map('km_manage').lookup(encodeManagerKey({ netns_cookie: BigInt(cookie) }))?.readUInt32LE(0);
  }

  frontend(address: string, upstreamId: number): void {
    this.h.map('km_frontend').update(encodeFrontendKey({ addr: ipAddr(address) }), encodeFrontendValue({ upstream_id: upstreamId }));
  }

  service(serviceId: number, value: Init<ServiceValue>): void {
    this.h.map('km_service').update(encodeServiceKey({ service_id: serviceId }), encodeServiceValue(value));
  }

  /** backendIndex is 1-based, as in Kmesh. */
  endpoint(serviceId: number, prio: number, backendIndex: number, backendUid: number): void {
    this.h.map('km_endpoint').update(
      encodeEndpointKey({ service_id: serviceId, prio, backend_index: backendIndex }),
      encodeEndpointValue({ backend_uid: backendUid }),
    );
  }

  backend(backendUid: number, value: Init<BackendValue>): void {
    this.h.map('km_backend').update(encodeBackendKey({ backend_uid: backendUid }), encodeBackendValue(value));
  }

  /** Lines logged through BPF_LOG into km_log_event, in order. */
  logs(): LogLine[] {
    return this.h.mocks.ringbuf('km_log_event').map((r) => {
      const e = decodeLogEvent(r.data);
      const m = /^\[([^\]]*)\] (\w+): ([\s\S]*)$/.exec(e.msg);
      return { tag: m?.[1] ?? '', level: m?.[2] ?? '', text: m?.[3] ?? e.msg, ret: e.ret };
    });
  }
}
