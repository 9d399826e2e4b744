import { commentDecider, commentStreamId } from '../../domain/comment.ts';
import { handleCommand, type CommandHandlerDeps } from '../commandHandler.ts';

export interface CommentCommandDeps extends CommandHandlerDeps {
  now: () => string;
  newId: () => string;
}

export interface PostCommentInput {
  pollId: string;
  authorId: string;
  text: string;
}

export interface HideCommentInput {
  commentId: string;
  /** The acting official's citizen id. */
  by: string;
  /** Whether `by` moderates the comment's poll (an official of its organisation); the decider checks it. */
  isModerator: boolean;
  reason?: string;
}

/** The comment use cases: the comment decider run through the command handler, with the actor in the metadata. */
export const commentCommands = (deps: CommentCommandDeps) => ({
  /** Posts a citizen's comment on a poll; returns the new comment's id. */
  post: async ({ pollId, authorId, text }: PostCommentInput): Promise<string> => {
    const commentId = deps.newId();
    await handleCommand(deps, commentDecider, commentStreamId(commentId), { type: 'PostComment', data: { commentId, pollId, authorId, text, now: deps.now() } }, { metadata: { citizenId: authorId } });
    return commentId;
  },
  hide: async ({ commentId, by, isModerator, reason }: HideCommentInput): Promise<void> => {
    const data = { commentId, by, isModerator, ...(reason ? { reason } : {}), now: deps.now() };
    await handleCommand(deps, commentDecider, commentStreamId(commentId), { type: 'HideComment', data }, { metadata: { actor: `official:${by}` } });
  },
});

export type CommentCommands = ReturnType<typeof commentCommands>;
