import http from 'node:http';

export interface HttpResponse {
  status: number;
  body: string;
}

/**
 * A keep-alive client for loopback targets: one agent, at most `maxSockets` connections, a hard timeout
 * per request. Responses are read whole (they are small JSON or one HTML page).
 */
export const createHttpClient = (baseUrl: string, options: { maxSockets: number; timeoutMs: number }) => {
  const base = new URL(baseUrl);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(base.hostname))
    throw new Error(`the load runner only targets loopback addresses, not ${base.hostname}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: 'fifo' });

  const request = (method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<HttpResponse> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method, path, agent, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(options.timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });

  return { request, close: () => agent.destroy() };
};

export type HttpClient = ReturnType<typeof createHttpClient>;
