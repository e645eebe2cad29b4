"""LLM calls for blocks: the model table, provider routing, both wire formats, retries, usage.

Modules: ``types`` (the provider-neutral request, response and tool types), ``models`` (the
model table), ``credentials`` (the ``credentials`` pin and the prices), ``routing`` (which
endpoint and key serve a call), ``openai_wire`` / ``anthropic_wire`` (the two wire formats),
``client`` (:func:`~autoplat.blocks.llm.client.call_llm`: one call with retries and usage)
and ``prompting`` (prompt text and structured answers). Import the submodules directly: this
package imports nothing, so ``blocks.settings`` may use the model table without a cycle.
"""
