import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createOrganisation } from '../../app/identity/admin.ts';
import type { EventStore } from '../../app/eventStore.ts';
import { importPabulib } from '../../app/polls/importPabulib.ts';
import type { OrgKind } from '../../domain/organisation.ts';
import type { Actor } from '../../domain/poll.ts';
import type { BallotSelections, PollDefinition } from '../../domain/pollDefinition.ts';
import type { Logger } from '../logger.ts';
import type { Polls } from '../polls/pollServices.ts';

/**
 * Demo data for `npm start` on an empty event store: a few polls of every kind, ballots from synthetic
 * citizens (`demo-citizen-NNN`, never real accounts), and tags shared between polls so "recommended"
 * and "hot" have something to show. Everything goes through the real commands and the real casting
 * path, so the ledger and the read models see ordinary events.
 */
export interface DemoSeedDeps {
  polls: Pick<Polls, 'commands' | 'cast'>;
  eventStore: Pick<EventStore, 'readStream' | 'append' | 'readAll'>;
  now: () => string;
  logger: Logger;
}

type Official = Extract<Actor, { kind: 'official' }>;
type Definition = Omit<PollDefinition, 'pollId'>;

const ORGS: { orgId: string; name: string; kind: OrgKind }[] = [
  { orgId: 'demo-transport', name: '서울시 교통정책과 (Transport Policy)', kind: 'department' },
  { orgId: 'demo-citizen-affairs', name: '서울시 시민소통담당관 (Citizen Communication)', kind: 'department' },
  { orgId: 'demo-education', name: '서울특별시교육청 (Seoul Education Office)', kind: 'education' },
  { orgId: 'demo-budget', name: '주민참여예산과 (Participatory Budget)', kind: 'department' },
];
const officialOf = (orgId: string): Official => ({ kind: 'official', id: `demo-official-${orgId}`, orgId });
const citizenId = (n: number) => `demo-citizen-${String(n).padStart(3, '0')}`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The demo budget poll's source: Warsaw's 2017 Młynów vote from Pabulib (pabulib.org), kept beside this file. */
const MLYNOW = new URL('./Poland_Warszawa_2017_Mlynow.pb', import.meta.url);
const MLYNOW_BALLOTS = 300;

/** A small deterministic generator, so every fresh demo looks the same. */
const lcg = (seed: number) => () => ((seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);

/** True when no event was ever written: the only time the demo data is added. */
export const eventStoreIsEmpty = async (eventStore: Pick<EventStore, 'headCheckpoint'>): Promise<boolean> =>
  (await eventStore.headCheckpoint()) === null;

/** Adds the demo data; returns how many polls and ballots it wrote. */
export const seedDemoData = async (deps: DemoSeedDeps): Promise<{ polls: number; ballots: number }> => {
  const { polls, eventStore, now } = deps;
  const started = Date.now();
  const at = (offsetMs: number) => new Date(Date.parse(now()) + offsetMs).toISOString();
  const random = lcg(20140101);
  let ballots = 0;

  for (const org of ORGS) {
    await createOrganisation({ readStream: eventStore.readStream, append: eventStore.append, newId: () => org.orgId, now })({ ...org, by: 'demo-seed' });
  }

  const single = (questionId: string, weights: number[], ids: string[]) => (): BallotSelections => {
    const total = weights.reduce((a, b) => a + b, 0);
    let r = random() * total;
    const i = weights.findIndex((w) => (r -= w) < 0);
    return { selections: { [questionId]: [ids[i < 0 ? ids.length - 1 : i]!] } };
  };
  const open = async (definition: Definition, by: Actor, voters: number, ballot: () => BallotSelections, firstVoter = 1) => {
    const pollId = await polls.commands.launch(definition, by);
    await Promise.all(Array.from({ length: voters }, (_, i) => polls.cast({ pollId, citizenId: citizenId(firstVoter + i), selections: ballot() })));
    ballots += voters;
    return pollId;
  };
  const settings = (closesInMs: number, extra: Partial<PollDefinition['settings']> = {}): PollDefinition['settings'] => ({
    opensAt: at(-HOUR), closesAt: at(closesInMs), resultsVisibility: 'live', allowRevote: false, ...extra,
  });
  const options = (...labels: string[]) => labels.map((label, i) => ({ id: `o${i + 1}`, label }));
  const one = (text: string, opts: ReturnType<typeof options>) => [{ id: 'q1', text, options: opts, minChoices: 1, maxChoices: 1 }];

  // A general poll and a VS poll from citizens.
  await open(
    {
      kind: 'general', title: '이번 주말 어느 한강공원에 갈까요? (Han River parks)', tags: ['공원', '여가', '한강'],
      description: '가족과 함께 가기 좋은 한강공원을 골라 주세요.',
      questions: one('가고 싶은 공원', options('뚝섬 (Ttukseom)', '여의도 (Yeouido)', '반포 (Banpo)', '망원 (Mangwon)')),
      settings: settings(5 * DAY, { allowRevote: true }),
    },
    { kind: 'citizen', id: citizenId(1) }, 32, single('q1', [5, 8, 4, 3], ['o1', 'o2', 'o3', 'o4']),
  );
  await open(
    {
      kind: 'vs', title: '짜장면 vs 짬뽕', tags: ['음식', '여가'],
      questions: [{ id: 'q1', text: '오늘 점심은?', minChoices: 1, maxChoices: 1, options: [
        { id: 'jajang', label: '짜장면 (Jajangmyeon)', description: '달콤한 춘장 소스' },
        { id: 'jjamppong', label: '짬뽕 (Jjamppong)', description: '얼큰한 해물 국물' },
      ] }],
      settings: settings(2 * DAY),
    },
    { kind: 'citizen', id: citizenId(2) }, 48, single('q1', [11, 9], ['jajang', 'jjamppong']),
  );

  // A survey from the education office: one single-choice question, one multiple choice with free text.
  const education = officialOf('demo-education');
  await open(
    {
      kind: 'survey', title: '학교 급식 만족도 조사 (School lunch survey)', tags: ['교육', '음식', '학교'],
      description: '서울시 초·중·고 학부모와 학생을 위한 설문입니다.',
      questions: [
        { id: 'satisfaction', text: '급식에 얼마나 만족하시나요?', minChoices: 1, maxChoices: 1, options: options('매우 만족', '만족', '보통', '불만족') },
        { id: 'wishes', text: '더 늘었으면 하는 메뉴 (최대 2개)', minChoices: 0, maxChoices: 2, allowFreeText: true, options: options('채소 반찬', '과일', '생선', '잡곡밥') },
      ],
      settings: settings(10 * DAY),
    },
    education, 6,
    () => ({
      selections: { satisfaction: [`o${1 + Math.floor(random() * 4)}`], wishes: random() < 0.5 ? ['o2'] : ['o1', 'o3'] },
      ...(random() < 0.3 ? { freeText: { wishes: '떡볶이도 가끔 나왔으면 좋겠어요' } } : {}),
    }),
    100,
  );

  // Policy polls: a decision (100% reflected) from the transport department, a reference from citizen affairs.
  const transport = officialOf('demo-transport');
  const affairs = officialOf('demo-citizen-affairs');
  await open(
    {
      kind: 'policy', title: '심야버스 노선 확대 (Late-night bus routes)', tags: ['교통', '야간'], orgId: transport.orgId,
      description: '올빼미버스 노선을 어디에 먼저 늘릴지 정합니다. 결과는 100% 반영됩니다.',
      questions: one('가장 먼저 늘릴 노선', options('강남–홍대', '노원–종로', '구로–잠실')),
      policy: { mode: 'decision', reflectionPercent: 100 }, settings: settings(7 * DAY),
    },
    transport, 25, single('q1', [6, 5, 3], ['o1', 'o2', 'o3']), 200,
  );
  await open(
    {
      kind: 'policy', title: '따릉이 요금 조정 (Public bike fares)', tags: ['교통', '환경', '자전거'], orgId: affairs.orgId,
      description: '공공자전거 1시간 이용권 요금 조정안에 대한 의견을 듣습니다. 결과는 60% 반영됩니다.',
      questions: one('적절한 1시간 요금', options('1,000원 유지', '1,500원', '2,000원')),
      policy: { mode: 'reference', reflectionPercent: 60 }, settings: settings(14 * DAY),
    },
    affairs, 18, single('q1', [7, 3, 1], ['o1', 'o2', 'o3']), 240,
  );
  // Opens tomorrow: an upcoming poll with no ballots yet.
  await open(
    {
      kind: 'general', title: '우리 동네 도서관 휴관일은? (Library closing day)', tags: ['교육', '여가'],
      questions: one('휴관하면 좋은 요일', options('월요일', '화요일', '수요일')),
      settings: { ...settings(8 * DAY), opensAt: at(DAY) },
    },
    { kind: 'citizen', id: citizenId(3) }, 0, () => ({ selections: {} }),
  );

  // The Młynów budget poll from Pabulib, open, with its first few hundred ballots cast through the real path.
  const budget = officialOf('demo-budget');
  const mlynow = await importPabulib({ commands: polls.commands, cast: polls.cast, now, newPollId: () => randomUUID() })({
    text: readFileSync(MLYNOW, 'utf8'), by: budget, cast: true, castLimit: MLYNOW_BALLOTS,
    overrides: {
      title: '주민참여예산: 바르샤바 므위누프 2017 (Młynów, Warsaw)',
      description: '실제 참여예산 투표(Pabulib 공개 데이터)를 가져왔습니다. 최대 예산 안에서 지지하는 사업을 모두 고르세요.',
      tags: ['참여예산', '공원', '환경'], openForMs: 21 * DAY,
    },
  });
  ballots += mlynow.ballotsCast;

  // A closed policy poll with a published result and a posted reflection.
  const closed = await open(
    {
      kind: 'policy', title: '서울광장 주말 차 없는 거리 (Car-free weekends)', tags: ['교통', '환경', '광장'], orgId: transport.orgId,
      description: '세종대로 일대를 주말마다 보행자에게 여는 방안입니다. 결과는 100% 반영됩니다.',
      questions: one('주말 차 없는 거리 운영', options('찬성', '반대')),
      policy: { mode: 'decision', reflectionPercent: 100 }, settings: settings(3 * DAY),
    },
    transport, 40, single('q1', [3, 1], ['o1', 'o2']), 300,
  );
  await polls.commands.close(closed, transport);
  await polls.commands.publishResult(closed, transport);
  await polls.commands.postReflection(closed, {
    text: '투표 결과(찬성 다수)에 따라 다음 달부터 매주 일요일 세종대로를 차 없는 거리로 운영합니다.',
    links: ['https://www.seoul.go.kr/'], reflectedPercent: 100, status: '시행 준비 중 (preparing)',
  }, transport);

  deps.logger.info({ polls: 8, ballots, ms: Date.now() - started }, 'demo data added');
  return { polls: 8, ballots };
};
