import type { SendSms } from '../../app/identity/ports.ts';

export class SmsGatewayError extends Error {
  constructor(readonly status: number) {
    super(`The SMS gateway refused the message (HTTP ${status})`);
    this.name = 'SmsGatewayError';
  }
}

/**
 * The production SMS adapter: POST `{ to, from, text }` as JSON to SMS_HTTP_URL with
 * `Authorization: Bearer SMS_HTTP_TOKEN`; anything but 2xx rejects. The error names the status only:
 * gateway bodies may echo the number.
 */
export const httpGatewaySms = (options: { url: string; token: string; sender: string; timeoutMs?: number }): SendSms => async (toE164, text) => {
  const response = await fetch(options.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: JSON.stringify({ to: toE164, from: options.sender, text }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new SmsGatewayError(response.status);
};
