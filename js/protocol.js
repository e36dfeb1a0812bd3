// The panel's protocol on the front end, declared in Python once:
// - the actions the kernel answers (evolviz/panel/actions.py), synced read-only as the
//   `actions` trait, as jupyter-scatter syncs its `event_types`: send one with
//   `createSender(model)(key, payload)`, never with a bare `model.send`;
// - the shape of every synced trait (evolviz/panel/state.py), as the JSDoc typedefs below.
//   tests/test_panel_protocol.py checks that each typedef has the TypedDict's fields.
// Views decide how a state looks from its flags (status.error, status.budget_reached...),
// never by reading display text.

/**
 * @typedef {Object} AnyModel
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(content: Object) => void} send
 * @property {(event: string, callback: Function) => void} on
 */

/**
 * @typedef {Object} Action
 * @property {string} name the wire name the kernel dispatches on
 * @property {string[]} payload the fields it takes
 */

/**
 * @typedef {Object} Status
 * @property {boolean} running a Step/Run is in progress
 * @property {boolean} revising a "Suggest a revision" loop is in progress
 * @property {number} generation the next generation, or the one running
 * @property {number} finished_generations
 * @property {string} endpoint
 * @property {string} store
 * @property {number} counts_generation the generation counted
 * @property {number} pool_size
 * @property {number} done
 * @property {number} accepted
 * @property {number} rejected
 * @property {number} failed
 * @property {number} tokens
 * @property {number} cost
 * @property {string} budget display text, "" without a budget
 * @property {boolean} budget_set
 * @property {boolean} budget_reached
 * @property {boolean} budget_stopped
 * @property {number} in_flight calls in flight now (0 between runs)
 * @property {number} calls_per_s calls finished per second, lately
 * @property {string} endpoint_health while the endpoint is down, since when and the next retry; "" while it answers
 * @property {string} batches a batch run's batches and their states, "" for a live run
 * @property {string} message
 * @property {boolean} error the latest message reports an error
 */

/**
 * @typedef {Object} GatesForm
 * @property {boolean} dedup
 * @property {number|null} near_dup
 * @property {string[]} decontaminate
 */

/**
 * @typedef {Object} BudgetForm
 * @property {number|null} max_tokens
 * @property {number|null} max_cost
 * @property {number|null} price_in
 * @property {number|null} price_out
 */

/**
 * @typedef {Object} SettingsForm
 * @property {number} [seed]
 * @property {number} [temperature]
 * @property {number} [concurrency]
 * @property {string} [base_url]
 * @property {string} [model]
 * @property {Object<string, boolean>} [rules]
 * @property {number} [sorry_max_words]
 * @property {number} [copied_ngram]
 * @property {boolean} [judge_difficulty]
 * @property {string} [judge] who decides rule 1 and not_a_task: "model" or "check"
 * @property {string} [prompt_style] "few_shot", "chat" (or "mixed", shown only)
 * @property {Object<string, number>} [weights]
 * @property {Object<string, number>} [max_tokens]
 * @property {GatesForm} [gates]
 * @property {BudgetForm} [budget]
 */

/**
 * @typedef {Object} FilterOptions
 * @property {number[]} generation
 * @property {string[]} operator
 * @property {string[]} status
 * @property {string[]} rule
 */

/**
 * @typedef {Object} QueryState
 * @property {number|string|null} [generation]
 * @property {string|null} [operator]
 * @property {string|null} [status]
 * @property {string|null} [rule]
 * @property {string|null} [text]
 * @property {string[]} [ids]
 * @property {number} [offset]
 * @property {number} [limit]
 */

/**
 * @typedef {Object} CandidateRowState
 * @property {string} id
 * @property {number} generation
 * @property {number} slot
 * @property {string} operator
 * @property {string} status
 * @property {string|null} rejected_by
 * @property {string|null} error_class
 * @property {string|null} instruction
 * @property {number|null} difficulty
 */

/**
 * @typedef {Object} PageState
 * @property {number} offset
 * @property {number} total
 * @property {CandidateRowState[]} rows
 * @property {boolean} reset
 * @property {number} stamp
 */

/**
 * @typedef {Object} VerdictState
 * @property {string} rule
 * @property {boolean} passed
 * @property {string} reason
 * @property {Object} detail
 */

/**
 * @typedef {Object} CallState
 * @property {string} role
 * @property {string} model
 * @property {{role: string, content: string}[]} messages
 * @property {Object} sampling
 * @property {string|null} content
 * @property {string|null} finish_reason
 * @property {number} prompt_tokens
 * @property {number} completion_tokens
 * @property {number} latency_s
 * @property {number} attempts
 * @property {boolean} cached
 * @property {string|null} error_class
 * @property {string|null} error
 * @property {string[]} retries
 * @property {Object|null} response_format
 * @property {string|null} batch_id the batch it came back in (batch mode)
 */

/**
 * @typedef {Object} CandidateDetail
 * @property {string} [id]
 * @property {number} [generation]
 * @property {number} [slot]
 * @property {string} [parent_id]
 * @property {string} [seed_id]
 * @property {string} [operator]
 * @property {string} [parent_instruction]
 * @property {string} [status]
 * @property {string|null} [rejected_by]
 * @property {string|null} [error_class]
 * @property {string|null} [error]
 * @property {string|null} [instruction]
 * @property {string|null} [answer]
 * @property {VerdictState[]} [verdicts]
 * @property {Object<string, CallState>} [calls]
 * @property {number|null} [difficulty]
 * @property {string|null} [difficulty_raw]
 * @property {number} [tokens]
 * @property {number} [latency_s]
 * @property {number|null} [finished_at]
 */

/**
 * @typedef {Object} LineageStepState
 * @property {string} id
 * @property {number} generation
 * @property {string|null} operator
 * @property {string} status
 * @property {string|null} text
 * @property {string|null} rejected_by
 * @property {string|null} parent_id
 * @property {string|null} error
 */

/**
 * @typedef {Object} TemplateState
 * @property {string} name
 * @property {string} role
 * @property {string|null} kind
 * @property {string} system
 * @property {string} user
 * @property {string[]} placeholders
 * @property {string[]} allowed
 * @property {string[]} markers
 * @property {string} description
 * @property {string|null} path
 * @property {string} style how it is sent: "chat", or "completion" (a few-shot text)
 * @property {string[]} stop its own stop strings
 */

/**
 * @typedef {Object} TemplateFocus
 * @property {string} [name]
 */

/**
 * @typedef {Object} RerunSide
 * @property {string} status
 * @property {string|null} rejected_by
 * @property {string|null} instruction
 * @property {string|null} answer
 * @property {string|null} error
 */

/**
 * @typedef {Object} RerunState
 * @property {RerunSide} old
 * @property {RerunSide} new
 * @property {{role: string, content: string}[]} messages
 */

/**
 * @typedef {Object} TemplateResult
 * @property {string} [name]
 * @property {string[]} [errors]
 * @property {{role: string, content: string}[]} [preview]
 * @property {boolean} [running]
 * @property {RerunState} [rerun]
 * @property {string} [saved]
 */

/**
 * @typedef {Object} ReapplyResult
 * @property {Object[]} [per_generation]
 * @property {Object[]} [changed]
 * @property {number} [total_changed]
 */

/**
 * @typedef {Object} Comparison
 * @property {Object} [a]
 * @property {Object} [b]
 * @property {boolean} [paired]
 * @property {string} [pairing]
 * @property {number} [pairs]
 * @property {number} [unpaired_candidates]
 * @property {number} [alpha]
 * @property {string} [correction]
 * @property {Object[]} [tests]
 * @property {Object[]} [significant]
 * @property {Object[]} [difficulty_by_generation]
 * @property {Object} [tokens_per_accepted]
 * @property {Object|null} [cost_per_accepted]
 * @property {Object[]} [flipped]
 * @property {number} [flipped_total]
 */

/**
 * @typedef {Object} Revision
 * @property {string} [name]
 * @property {string} [store]
 * @property {number} [dev]
 * @property {number} [steps_asked]
 * @property {boolean} [running]
 * @property {Object[]} [steps]
 * @property {string} [doing]
 * @property {Object|null} [best]
 * @property {string|null} [error]
 */

/**
 * A function that sends an action of the synced table by its key ("STEP", "RUN"...),
 * refusing a key or a payload field the table does not declare: a typo fails here, loudly,
 * instead of reaching the kernel as an action nobody answers.
 * @param {AnyModel} model
 * @returns {(key: string, payload?: Object) => void}
 */
export function createSender(model) {
  return (key, payload = {}) => {
    /** @type {Object<string, Action>} */
    const table = model.get("actions") || {};
    const action = table[key];
    if (!action) throw new Error(`evolviz: unknown action ${key}`);
    const extra = Object.keys(payload).filter((field) => !action.payload.includes(field));
    if (extra.length) throw new Error(`evolviz: action ${key} takes no ${extra.join(", ")}`);
    model.send({ action: action.name, ...payload });
  };
}
