import { describe, it } from 'vitest';
import { commentDecider, type CommentCommand, type CommentEvent } from './comment.ts';
import { CommentAlreadyExists, CommentNotFound, InvalidComment, NotModerator } from './errors.ts';
import { specFor } from './testing.ts';

const spec = specFor(commentDecider);
const NOW = '2025-03-04T12:00:00Z';
const LATER = '2025-03-04T13:00:00Z';

const post = (text: string): CommentCommand => ({
  type: 'PostComment',
  data: { commentId: 'c1', pollId: 'p1', authorId: 'citizen-1', text, now: NOW },
});
const posted = (text = 'Benches near the pond, please.'): CommentEvent => ({
  type: 'CommentPosted',
  data: { commentId: 'c1', pollId: 'p1', authorId: 'citizen-1', text, postedAt: NOW },
});
const hide = (isModerator: boolean, reason?: string): CommentCommand => ({
  type: 'HideComment',
  data: { commentId: 'c1', by: 'official-1', isModerator, ...(reason !== undefined && { reason }), now: LATER },
});
const hidden: CommentEvent = { type: 'CommentHidden', data: { commentId: 'c1', pollId: 'p1', hiddenBy: 'official-1', hiddenAt: LATER } };

describe('PostComment', () => {
  it('posts a comment, trimmed', () => {
    spec.given([]).when(post('  Benches near the pond, please.\n')).then([posted()]);
  });

  it('accepts 2000 characters, counting an emoji as one', () => {
    spec.given([]).when(post('🌳'.repeat(2000))).then([posted('🌳'.repeat(2000))]);
  });

  it('refuses empty, blank and over-long text', () => {
    spec.given([]).when(post('')).thenThrows(InvalidComment);
    spec.given([]).when(post(' \n\t ')).thenThrows(InvalidComment);
    spec.given([]).when(post('a'.repeat(2001))).thenThrows(InvalidComment);
  });

  it('refuses a comment id already used', () => {
    spec.given([posted()]).when(post('again')).thenThrows(CommentAlreadyExists);
  });
});

describe('HideComment', () => {
  it('lets a moderator hide a comment', () => {
    spec.given([posted()]).when(hide(true)).then([hidden]);
  });

  it('keeps the reason when given', () => {
    spec.given([posted()]).when(hide(true, 'personal data')).then([
      { type: 'CommentHidden', data: { ...hidden.data, reason: 'personal data' } } as CommentEvent,
    ]);
  });

  it('refuses anyone who is not a moderator', () => {
    spec.given([posted()]).when(hide(false)).thenThrows(NotModerator);
  });

  it('refuses a comment that does not exist', () => {
    spec.given([]).when(hide(true)).thenThrows(CommentNotFound);
  });

  it('does nothing when the comment is already hidden', () => {
    spec.given([posted(), hidden]).when(hide(true)).then([]);
  });
});
