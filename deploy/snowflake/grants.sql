-- The Snowflake side of the modelship agent in production: a service user with key-pair auth and
-- the role environments/production.yaml names (snowflake.role), granted what the agent's SQL
-- needs and nothing more (test/deploy/snowflake-grants.test.ts derives the list from the SQL a
-- sync sends, the drift queries' scoring tables and the canary checks' warehouse queries).
-- Run once as a role that can create users and grant (USERADMIN + SECURITYADMIN, or ACCOUNTADMIN),
-- with the public half of the agent's key pair in place of the placeholder:
--   openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt -out rsa_key.p8
--   openssl rsa -in rsa_key.p8 -pubout   (the lines between BEGIN and END, joined)
--
-- What the role does not get, on purpose: the scoring procedure's own reads of feature tables and
-- writes of score tables. The tasks run as this role and CALL the procedure, which should be
-- EXECUTE AS OWNER (owner's rights), owned by the platform team's role, so the agent cannot read
-- or write the data by itself.

CREATE ROLE IF NOT EXISTS MODELSHIP_DEPLOYER;
CREATE USER IF NOT EXISTS MODELSHIP_AGENT
  TYPE = SERVICE
  DEFAULT_ROLE = MODELSHIP_DEPLOYER
  DEFAULT_WAREHOUSE = SCORING_WH_M
  RSA_PUBLIC_KEY = 'MIIBIjANBgkqh...REPLACE-WITH-THE-AGENT-PUBLIC-KEY';
GRANT ROLE MODELSHIP_DEPLOYER TO USER MODELSHIP_AGENT;

-- The scoring tasks: created (the role then owns them, so it may suspend, alter and drop them),
-- resumed (EXECUTE TASK), run on the environment's warehouses, calling the scoring procedure.
GRANT USAGE ON DATABASE ML_PROD TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON SCHEMA ML_PROD.SCORING TO ROLE MODELSHIP_DEPLOYER;
GRANT CREATE TASK ON SCHEMA ML_PROD.SCORING TO ROLE MODELSHIP_DEPLOYER;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON WAREHOUSE SCORING_WH_M TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON WAREHOUSE SCORING_WH_L TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON DATABASE ML_PLATFORM TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON SCHEMA ML_PLATFORM.SCORING TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON PROCEDURE ML_PLATFORM.SCORING.SCORE_WITH_MODEL(VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR) TO ROLE MODELSHIP_DEPLOYER;

-- The deployment log: sync creates ML_PROD.SCORING.MODELSHIP_DEPLOYMENTS once (and, owning it,
-- inserts a row per deployed model).
GRANT CREATE TABLE ON SCHEMA ML_PROD.SCORING TO ROLE MODELSHIP_DEPLOYER;

-- drift: the scoring logs (model.yaml serving.batch.target), read for the serving histograms.
GRANT USAGE ON DATABASE ANALYTICS TO ROLE MODELSHIP_DEPLOYER;
GRANT USAGE ON SCHEMA ANALYTICS.SCORES TO ROLE MODELSHIP_DEPLOYER;
GRANT SELECT ON TABLE ANALYTICS.SCORES.FRAUD_SCORES TO ROLE MODELSHIP_DEPLOYER;
GRANT SELECT ON TABLE ANALYTICS.SCORES.CHARGEBACK_SCORES TO ROLE MODELSHIP_DEPLOYER;

-- canary watch: the decisions the warehouse guardrail of policies/production.yaml reads.
GRANT USAGE ON SCHEMA ANALYTICS.DECISIONS TO ROLE MODELSHIP_DEPLOYER;
GRANT SELECT ON TABLE ANALYTICS.DECISIONS.AUTHORISATIONS TO ROLE MODELSHIP_DEPLOYER;

-- the shadow gate and the canary's sample ratio check: the prediction log (environments/production.yaml inferenceLog.table).
GRANT USAGE ON SCHEMA ANALYTICS.INFERENCE TO ROLE MODELSHIP_DEPLOYER;
GRANT SELECT ON TABLE ANALYTICS.INFERENCE.PREDICTION_LOG TO ROLE MODELSHIP_DEPLOYER;
