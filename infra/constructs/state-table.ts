import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE, tableDefinition } from '../../lib/state/table.ts';

export interface StateTableProps {
  /**
   * Physical table name. Unset lets CloudFormation pick a unique one, so a retained table
   * from an earlier stack never blocks a new deployment.
   * @default a generated name
   */
  readonly tableName?: string;
  /**
   * What happens to the table when the stack is deleted. It holds the record of every rented
   * machine, so it outlives the stack unless you say otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single state table, built from lib/state/table.ts so the deployed table and the
 * local/test one (dynalite) share one definition: on-demand, point-in-time recovery,
 * DynamoDB TTL on `ttl` (tidying only: readers check expiry themselves).
 */
export class StateTable extends Construct {
  /** Item-level actions the DynamoDB store uses; no Scan of other tables, no table admin. */
  static readonly DATA_ACTIONS = [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:Query',
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
  ] as const;

  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StateTableProps = {}) {
    super(scope, id);
    const definition = tableDefinition(props.tableName);
    const key = (name: string): dynamodb.Attribute => {
      const attribute = definition.AttributeDefinitions.find((a) => a.AttributeName === name);
      if (attribute === undefined) throw new Error(`lib/state/table.ts defines no attribute "${name}"`);
      return { name, type: attribute.AttributeType as dynamodb.AttributeType };
    };
    this.table = new dynamodb.Table(this, 'Table', {
      ...(props.tableName === undefined ? {} : { tableName: props.tableName }),
      partitionKey: key(TABLE.partitionKey),
      sortKey: key(TABLE.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** Read/write of items, on this table's ARN only (the table has no indexes). */
  grantData(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...StateTable.DATA_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
  }
}
