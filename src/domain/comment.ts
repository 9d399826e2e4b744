import { assertNever, type Decider } from './decider.ts';
import { CommentAlreadyExists, CommentNotFound, InvalidComment, NotModerator } from './errors.ts';

/** Stream `comment-<commentId>`: one per comment, so posting never contends on a per-poll stream. */
export const commentStreamId = (commentId: string): string => `comment-${commentId}`;

export const MAX_COMMENT_LENGTH = 2000;

export type CommentCommand =
  | { type: 'PostComment'; data: { commentId: string; pollId: string; authorId: string; text: string; now: string } }
  | {
      type: 'HideComment';
      /** isModerator: the app decides whether `by` is the poll's author or an official of the poll's organisation. */
      data: { commentId: string; by: string; isModerator: boolean; reason?: string; now: string };
    };

/** Event type names are a persisted contract: never rename. */
export type CommentEvent =
  | { type: 'CommentPosted'; data: { commentId: string; pollId: string; authorId: string; text: string; postedAt: string } }
  | { type: 'CommentHidden'; data: { commentId: string; pollId: string; hiddenBy: string; reason?: string; hiddenAt: string } };

export type CommentState =
  | { status: 'None' }
  | { status: 'Visible'; commentId: string; pollId: string; authorId: string }
  | { status: 'Hidden'; commentId: string; pollId: string; authorId: string; hiddenAt: string };

export const initialState: CommentState = { status: 'None' };

export function decide(command: CommentCommand, state: CommentState): CommentEvent[] {
  switch (command.type) {
    case 'PostComment':
      return postComment(command.data, state);
    case 'HideComment':
      return hideComment(command.data, state);
    default:
      return assertNever(command);
  }
}

type Data<T extends CommentCommand['type']> = Extract<CommentCommand, { type: T }>['data'];

/** The text is stored trimmed; its length counts code points, as a person counts characters. */
function postComment({ commentId, pollId, authorId, text, now }: Data<'PostComment'>, state: CommentState): CommentEvent[] {
  if (state.status !== 'None') throw new CommentAlreadyExists(commentId);
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new InvalidComment('the text is empty');
  if ([...trimmed].length > MAX_COMMENT_LENGTH) throw new InvalidComment(`the text is longer than ${MAX_COMMENT_LENGTH} characters`);
  return [{ type: 'CommentPosted', data: { commentId, pollId, authorId, text: trimmed, postedAt: now } }];
}

/** Hiding a hidden comment changes nothing and is not an error, so a double click or a retry is harmless. */
function hideComment({ commentId, by, isModerator, reason, now }: Data<'HideComment'>, state: CommentState): CommentEvent[] {
  if (state.status === 'None') throw new CommentNotFound(commentId);
  if (!isModerator) throw new NotModerator();
  if (state.status === 'Hidden') return [];
  // An absent reason stays absent rather than undefined, so the stored JSON has one shape per meaning.
  const hidden = { commentId, pollId: state.pollId, hiddenBy: by, ...(reason !== undefined && { reason }), hiddenAt: now };
  return [{ type: 'CommentHidden', data: hidden }];
}

export function evolve(state: CommentState, event: CommentEvent): CommentState {
  switch (event.type) {
    case 'CommentPosted': {
      if (state.status !== 'None') return state;
      const { commentId, pollId, authorId } = event.data;
      return { status: 'Visible', commentId, pollId, authorId };
    }
    case 'CommentHidden':
      return state.status === 'Visible' ? { ...state, status: 'Hidden', hiddenAt: event.data.hiddenAt } : state;
    default:
      return state;
  }
}

export const commentDecider: Decider<CommentCommand, CommentEvent, CommentState> = { decide, evolve, initialState };
