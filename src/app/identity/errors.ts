import { DomainError } from '../../domain/errors.ts';

/**
 * Sign-in errors. Messages never carry the number or the code. The sign-in pages show them next to the
 * form (translated by `error.<code>`); the JSON API answers with the code.
 */
export class InvalidPhoneNumber extends DomainError {
  readonly code = 'phone.invalid';
  readonly kind = 'validation';
  constructor(readonly reason: 'invalid' | 'not-mobile') {
    super(reason === 'not-mobile' ? 'The number is not a mobile number: codes are sent by SMS' : 'The phone number is not valid');
  }
}

/** Too many code requests for one number or from one address. The routes answer 429. */
export class RateLimited extends DomainError {
  readonly code = 'otp.rate-limited';
  readonly kind = 'conflict';
  readonly httpStatus = 429;
  constructor(readonly scope: 'phone' | 'ip') {
    super(`Too many code requests from this ${scope === 'phone' ? 'number' : 'address'}; try again later`);
  }
}

export type CodeRejection = 'wrong' | 'expired' | 'too-many' | 'none';

export class CodeRejected extends DomainError {
  readonly code: string;
  readonly kind = 'validation';
  constructor(readonly reason: CodeRejection) {
    super(
      {
        wrong: 'The code is not right',
        expired: 'The code has expired: ask for a new one',
        'too-many': 'Too many wrong codes: ask for a new one',
        none: 'No code was requested for this number, or it was already used',
      }[reason],
    );
    this.code = `otp.${reason}`;
  }
}
