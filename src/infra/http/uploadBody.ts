/**
 * File uploads (`multipart/form-data`) through busboy: streamed and bounded, and read only after the
 * caller is known and allowed. The upload's own `_csrf` field must count (a browser without
 * JavaScript sends the token in the form), so the body is read between loading the user and the CSRF
 * check: this middleware, mounted before the identity middleware, leaves a reader in
 * `ctx.state.readUploadBody` that the identity middleware calls once the user is known (auth.ts).
 * Anything refused before that point (not signed in, not an official of the poll's organisation,
 * not multipart) has its body left unread and its connection closed.
 */
import busboy from 'busboy';
import type { Context, Middleware } from 'koa';
import { allStorable, RequestRefused } from './requestBody.ts';

export interface UploadRoute {
  /** POST paths this upload is read for. */
  path: RegExp;
  /** Whether the signed-in user (`ctx.state.user`) may upload here; called before any byte of the body is read. */
  authorise: (ctx: Context) => Promise<boolean>;
  /** The largest file, in bytes. */
  fileBytes: number;
  /** The largest text field (a pasted list rides along with the file), in bytes. */
  fieldBytes: number;
}

export const UPLOAD_LIMITS = { files: 1, fields: 20, parts: 24 } as const;

/** Reads the multipart body into `{ field: text, file: text }`; refusals are RequestRefused (400/413). */
const readMultipart = (ctx: Context, route: UploadRoute): Promise<Record<string, string>> =>
  new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: ctx.req.headers, defParamCharset: 'utf8', limits: { ...UPLOAD_LIMITS, fileSize: route.fileBytes, fieldSize: route.fieldBytes } });
    } catch {
      reject(new RequestRefused(400, 'request.malformed-body', 'The multipart form has no boundary'));
      return;
    }
    const fields: Record<string, string> = {};
    let refused: RequestRefused | null = null;
    const refuse = (error: RequestRefused) => {
      refused ??= error;
      ctx.req.unpipe(parser);
      ctx.req.resume();
      reject(refused);
    };
    const tooLarge = () => refuse(new RequestRefused(413, 'request.too-large', `The file is larger than ${Math.round(route.fileBytes / 1024 / 1024)} MB`));
    const tooMany = () => refuse(new RequestRefused(413, 'request.too-many-fields', 'The form has too many fields or files'));
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return tooLarge();
      fields[name] = value;
    });
    parser.on('file', (name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', tooLarge);
      // A body cut off inside the file destroys this stream with busboy's 'Unexpected end of form': without
      // a listener that error would end the process (seen in a CI run).
      stream.on('error', () => refuse(new RequestRefused(400, 'request.malformed-body', 'The multipart form is malformed or incomplete')));
      stream.on('end', () => {
        if (!refused) fields[name] = Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
      });
    });
    parser.on('filesLimit', tooMany);
    parser.on('fieldsLimit', tooMany);
    parser.on('partsLimit', tooMany);
    parser.on('error', () => refuse(new RequestRefused(400, 'request.malformed-body', 'The multipart form is malformed or incomplete')));
    parser.on('close', () => {
      if (!refused) resolve(fields);
    });
    ctx.req.on('aborted', () => refuse(new RequestRefused(400, 'request.malformed-body', 'The upload was interrupted')));
    ctx.req.pipe(parser);
  });

/**
 * For a multipart POST to one of `routes`: sets `ctx.state.readUploadBody`, which the identity
 * middleware calls after loading the user and before the CSRF check. Other requests pass untouched
 * (their multipart bodies are never read: the CSRF check then needs the header).
 */
export const uploadBody = (routes: readonly UploadRoute[]): Middleware => async (ctx, next) => {
  const route = ctx.method === 'POST' && ctx.request.is('multipart/form-data') ? routes.find((r) => r.path.test(ctx.path)) : undefined;
  if (route) {
    ctx.state.readUploadBody = async () => {
      if (!ctx.state.user || !(await route.authorise(ctx))) {
        // Not read: the refusal comes from the CSRF check or the route's own role check.
        ctx.set('Connection', 'close');
        ctx.request.body = {};
        return;
      }
      const fields = await readMultipart(ctx, route).catch((error: unknown) => {
        ctx.set('Connection', 'close');
        throw error;
      });
      if (!allStorable(fields)) throw new RequestRefused(400, 'request.invalid-text', 'The upload contains a character that is not allowed (a NUL character or a broken Unicode sequence)');
      ctx.request.body = fields;
    };
  }
  await next();
};
